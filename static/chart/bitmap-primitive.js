// The series-primitive plumbing the page's canvas layers share (heatmap, depth profile, zone
// history, reaction marks): one pane view at a z-order whose renderer draws in bitmap coordinates,
// behind the series' own drawing or, at "top", over it; and the attach/detach/requestUpdate contract
// of Lightweight Charts 4.1.
// A layer extends BitmapPrimitive and implements paint(scope) -> what it painted; drawScope(scope)
// may be overridden to time or count the paint. A layer painted behind the series may also draw
// something over it in the same frame: paintOver(scope), called after paint (the order blocks' badges).

class BitmapRenderer {
  constructor(primitive, above) {
    this._p = primitive;
    this._above = above; // "top": drawn after the series (draw), otherwise behind it (drawBackground)
  }

  draw(target) {
    if (this._above) target.useBitmapCoordinateSpace((scope) => this._p.drawScope(scope));
    else if (this._p.paintOver) target.useBitmapCoordinateSpace((scope) => this._p.paintOver(scope));
  }

  drawBackground(target) {
    if (!this._above) target.useBitmapCoordinateSpace((scope) => this._p.drawScope(scope));
  }
}

class BitmapPaneView {
  constructor(primitive, zOrder) {
    this._renderer = new BitmapRenderer(primitive, zOrder === "top");
    this._zOrder = zOrder;
  }

  zOrder() {
    return this._zOrder;
  }

  renderer() {
    return this._renderer;
  }
}

export class BitmapPrimitive {
  constructor(zOrder) {
    this._views = [new BitmapPaneView(this, zOrder)];
    this._chart = null;
    this._series = null;
    this._requestUpdate = null;
  }

  attached({ chart, series, requestUpdate }) {
    this._chart = chart;
    this._series = series;
    this._requestUpdate = requestUpdate;
  }

  detached() {
    this._chart = null;
    this._series = null;
    this._requestUpdate = null;
  }

  paneViews() {
    return this._views;
  }

  updateAllViews() {}

  requestUpdate() {
    if (this._requestUpdate) this._requestUpdate();
  }

  drawScope(scope) {
    this.painted = this.paint(scope);
  }
}
