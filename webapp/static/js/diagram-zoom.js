/* Zoom and move buttons for a bpmn-js viewer (used by case-diagram.js).
 *
 * The pathway is too large to read when fitted to a laptop screen, so a coordinator showing a
 * family where their case is can zoom in, move around and fit the diagram again. Buttons (not
 * only the viewer's mouse dragging) so that keyboard users can do the same; they sit above
 * the drawing, never over it.
 *
 * window.KinflowDiagramZoom.controls(viewer, make) returns the buttons' element, to be put
 * next to the viewer's container; make(tag, attrs, text) is the page script's element maker.
 * The buttons read the canvas each time, so they keep working when the viewer imports another
 * diagram. A button with nothing left to do (the largest size, or
 * no more of the diagram in that direction) says so with aria-disabled and keeps its focus.
 */
(function () {
  'use strict';

  var MIN_SCALE = 0.2;
  var MAX_SCALE = 4;
  var STEP = 1.5; // each zoom multiplies or divides the size by this
  var MOVE_SHARE = 1 / 3; // each move shows this share of a new view
  var EDGE = 20; // diagram units of margin left beyond the diagram's edge after a move

  /* The size at which the whole diagram fits, as the viewer's 'fit-viewport' computes it: a
   * diagram too large to fit at MIN_SCALE may still be zoomed out that far. */
  function smallest(box) {
    if (!box.inner.width || !box.inner.height) {
      return MIN_SCALE;
    }
    var fits = Math.min(1, box.outer.width / box.inner.width, box.outer.height / box.inner.height);
    return Math.min(MIN_SCALE, fits);
  }

  /* How much of the diagram lies beyond the view in each direction, in diagram units. */
  function hidden(box) {
    var inner = box.inner;
    return {
      left: box.x - inner.x,
      right: inner.x + inner.width - (box.x + box.width),
      up: box.y - inner.y,
      down: inner.y + inner.height - (box.y + box.height)
    };
  }

  /* The screen shift that shows more of the diagram in one direction, no further than its
   * edge (and a margin): moving left shifts the drawing right. */
  function shift(box, direction) {
    var across = direction === 'left' || direction === 'right';
    var room = hidden(box)[direction];
    var units = Math.min(room + EDGE, (across ? box.width : box.height) * MOVE_SHARE);
    var pixels = units * box.scale;
    var sign = direction === 'left' || direction === 'up' ? 1 : -1;
    return across ? { dx: sign * pixels, dy: 0 } : { dx: 0, dy: sign * pixels };
  }

  function controls(viewer, make) {
    var canvas = viewer.get('canvas');
    var tools = make('div', { 'class': 'kf-diagram-tools' });
    var zoomGroup = make('div', { 'role': 'group', 'aria-label': 'Size of the diagram' });
    var moveGroup = make('div', { 'role': 'group', 'aria-label': 'Move the view' });
    var buttons = {};

    function button(group, name, label, arrow, action) {
      var node = make('button', { 'type': 'button', 'data-zoom': name });
      if (arrow) {
        node.appendChild(make('span', { 'aria-hidden': 'true' }, arrow + ' '));
      }
      node.appendChild(document.createTextNode(label));
      node.addEventListener('click', function () {
        if (node.getAttribute('aria-disabled') !== 'true') {
          action();
        }
      });
      buttons[name] = node;
      group.appendChild(node);
    }

    function zoomBy(factor) {
      var box = canvas.viewbox();
      var scale = Math.max(smallest(box), Math.min(MAX_SCALE, box.scale * factor));
      canvas.zoom(scale); // around the middle of the view
    }

    function move(direction) {
      canvas.scroll(shift(canvas.viewbox(), direction));
    }

    /* Which buttons have something left to do, after every change of the view (the buttons',
     * a drag, a new diagram). A small tolerance absorbs rounding in the viewer's sums. */
    function refresh() {
      var box = canvas.viewbox();
      var room = hidden(box);
      var done = {
        'in': box.scale >= MAX_SCALE - 0.001,
        'out': box.scale <= smallest(box) + 0.001,
        'left': room.left <= 1,
        'right': room.right <= 1,
        'up': room.up <= 1,
        'down': room.down <= 1
      };
      Object.keys(done).forEach(function (name) {
        buttons[name].setAttribute('aria-disabled', done[name] ? 'true' : 'false');
      });
    }

    button(zoomGroup, 'in', 'Zoom in', '+', function () { zoomBy(STEP); });
    button(zoomGroup, 'out', 'Zoom out', '\u2212', function () { zoomBy(1 / STEP); });
    button(zoomGroup, 'fit', 'Whole diagram', '', function () {
      canvas.zoom('fit-viewport', 'auto'); // as the diagram is first shown
    });
    button(moveGroup, 'left', 'Left', '\u2190', function () { move('left'); });
    button(moveGroup, 'right', 'Right', '\u2192', function () { move('right'); });
    button(moveGroup, 'up', 'Up', '\u2191', function () { move('up'); });
    button(moveGroup, 'down', 'Down', '\u2193', function () { move('down'); });
    tools.appendChild(zoomGroup);
    tools.appendChild(moveGroup);

    viewer.on('canvas.viewbox.changed', refresh);
    return tools;
  }

  window.KinflowDiagramZoom = { controls: controls };
}());
