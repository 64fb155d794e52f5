/* The case diagram: each process a case has entered, drawn by the bpmn-js viewer, with what
 * ran, what waits now and what is overdue marked on it.
 *
 * Plain browser script, no build step: the page loads /vendor/bpmn-navigated-viewer.js first,
 * which defines the global BpmnJS (the viewer, plus dragging to move the drawing), and
 * diagram-zoom.js for the zoom and move buttons above the drawing. Each <div class="case-diagram" data-diagram-url="..."> fetches
 * [{process_id, name, bpmn_xml, completed: [], active: [], overdue: [], labels: {}}, ...]
 * (main process first) and shows one diagram at a time, with a button per process.
 *
 * The marks are also written out as a list ("Now: Hold the baseline meeting (overdue)"), so
 * they do not depend on colour or on seeing the drawing. When the markers are on, the
 * container gets data-diagram-ready="true" and data-active / data-overdue / data-completed
 * (space-separated element ids of the diagram shown); on failure data-diagram-ready="error".
 *
 * Two options serve the "where cases wait" report (webapp/stage_waits.py): a container with
 * data-diagram-source="<id>" reads the same list from the JSON in that element instead of
 * fetching it, and a diagram may carry heat: {element id: shade 1-5} and badges: {element id:
 * text}, drawn as kf-heat-<shade> markers and a badge beside each element, listed in words
 * too (notes: {element id: sentence}, in the order given by order: [element ids]), with
 * data-heat ("id:shade ...") set on the container. The page writes the shades' key.
 */
(function () {
  'use strict';

  var MARKERS = { completed: 'kf-completed', active: 'kf-active', overdue: 'kf-overdue' };

  function make(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      node.setAttribute(name, attrs[name]);
    });
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function labelOf(diagram, id) {
    return (diagram.labels && diagram.labels[id]) || id;
  }

  /* What the diagram shows, in words: what waits now (and whether it is late), then what is
   * done. An element that ran before and waits again (a review loop) is listed as waiting;
   * unnamed steps that are done (a gateway, a plain start) say nothing to a reader: left out. */
  function legendItems(diagram) {
    var active = diagram.active || [];
    var overdue = new Set(diagram.overdue || []);
    var items = active.map(function (id) {
      var late = overdue.has(id);
      return {
        id: id,
        mark: late ? 'overdue' : 'active',
        text: 'Now: ' + labelOf(diagram, id) + (late ? ' (overdue)' : '')
      };
    });
    (diagram.completed || []).forEach(function (id) {
      if (active.indexOf(id) === -1 && diagram.labels && diagram.labels[id]) {
        items.push({ id: id, mark: 'completed', text: 'Done: ' + labelOf(diagram, id) });
      }
    });
    return items;
  }

  function heatItems(diagram) {
    var notes = diagram.notes || diagram.badges || {};
    return (diagram.order || Object.keys(notes)).map(function (id) {
      var shade = (diagram.heat || {})[id];
      return {
        id: id,
        mark: shade ? 'heat-' + shade : 'heat-none',
        text: labelOf(diagram, id) + ': ' + notes[id]
      };
    });
  }

  function renderLegend(caption, diagram) {
    caption.textContent = '';
    caption.appendChild(make('p', { 'class': 'kf-diagram-title' }, diagram.name));
    if (diagram.heat) {
      var stages = make('ul', { 'class': 'kf-diagram-legend' });
      heatItems(diagram).forEach(function (item) {
        stages.appendChild(
          make('li', { 'data-element-id': item.id, 'data-mark': item.mark }, item.text)
        );
      });
      caption.appendChild(stages);
      return;
    }
    if (!(diagram.active || []).length) {
      caption.appendChild(make('p', {}, 'Nothing is waiting in this process now.'));
    }
    var list = make('ul', { 'class': 'kf-diagram-legend' });
    legendItems(diagram).forEach(function (item) {
      list.appendChild(
        make('li', { 'data-element-id': item.id, 'data-mark': item.mark }, item.text)
      );
    });
    caption.appendChild(list);
  }

  function renderKey() {
    var key = make('ul', { 'class': 'kf-diagram-key' });
    [
      ['completed', 'Done (shaded)'],
      ['active', 'Waiting now (thick outline)'],
      ['overdue', 'Overdue (thick dashed outline)']
    ].forEach(function (entry) {
      var item = make('li');
      item.appendChild(
        make('span', { 'class': 'kf-swatch kf-swatch-' + entry[0], 'aria-hidden': 'true' })
      );
      item.appendChild(document.createTextNode(' ' + entry[1]));
      key.appendChild(item);
    });
    return key;
  }

  function applyMarkers(viewer, diagram) {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    Object.keys(MARKERS).forEach(function (mark) {
      (diagram[mark] || []).forEach(function (id) {
        if (registry.get(id)) {
          canvas.addMarker(id, MARKERS[mark]);
        }
      });
    });
    var heat = diagram.heat || {};
    Object.keys(heat).forEach(function (id) {
      if (registry.get(id)) {
        canvas.addMarker(id, 'kf-heat-' + heat[id]);
      }
    });
    var overlays = viewer.get('overlays');
    Object.keys(diagram.badges || {}).forEach(function (id) {
      if (registry.get(id)) {
        var badge = make('span', { 'class': 'kf-heat-badge', 'data-element-id': id },
          diagram.badges[id]);
        // Never drawn smaller than its CSS size, however far the diagram is zoomed out.
        overlays.add(id, 'kf-heat', {
          position: { bottom: -6, left: 0 }, scale: { min: 1 }, html: badge
        });
      }
    });
  }

  function CaseDiagram(container, diagrams, status) {
    this.container = container;
    this.diagrams = diagrams;
    this.status = status;
    this.token = 0;
    this.buttons = [];
    this.build();
    // Without zoomScroll the mouse wheel scrolls the page as everywhere else, rather than
    // moving the drawing whenever the pointer passes over it; the buttons zoom.
    this.viewer = typeof window.BpmnJS === 'function'
      ? new window.BpmnJS({ container: this.canvas, zoomScroll: { enabled: false } })
      : null;
    if (!this.viewer) {
      this.status.textContent =
        'The drawing cannot be shown (the diagram viewer is not installed). ' +
        'The list below says where the case is.';
    } else if (window.KinflowDiagramZoom) {
      this.canvas.parentNode.insertBefore(
        window.KinflowDiagramZoom.controls(this.viewer, make), this.canvas
      );
    }
  }

  CaseDiagram.prototype.build = function () {
    var self = this;
    if (this.diagrams.length > 1) {
      var group = make('div', {
        'class': 'kf-diagram-switch',
        'role': 'group',
        'aria-label': 'Processes this case has entered'
      });
      this.diagrams.forEach(function (diagram, index) {
        var button = make('button', { 'type': 'button', 'aria-pressed': 'false' }, diagram.name);
        button.addEventListener('click', function () {
          self.show(index);
        });
        self.buttons.push(button);
        group.appendChild(button);
      });
      this.container.appendChild(group);
    }
    var figure = make('figure', { 'class': 'kf-diagram-figure' });
    this.canvas = make('div', { 'class': 'kf-diagram-canvas' });
    this.caption = make('figcaption', { 'class': 'kf-diagram-caption' });
    figure.appendChild(this.canvas);
    figure.appendChild(this.caption);
    this.container.appendChild(figure);
    if (!this.diagrams[0].heat) {
      this.container.appendChild(renderKey()); // a heat map's page writes its own key
    }
  };

  CaseDiagram.prototype.show = function (index) {
    var self = this;
    var diagram = this.diagrams[index];
    var token = ++this.token;
    var container = this.container;
    container.setAttribute('data-diagram-ready', 'false');
    container.setAttribute('data-process-id', diagram.process_id);
    this.buttons.forEach(function (button, i) {
      button.setAttribute('aria-pressed', i === index ? 'true' : 'false');
    });
    renderLegend(this.caption, diagram);
    if (!this.viewer) {
      container.setAttribute('data-diagram-ready', 'error');
      return Promise.resolve();
    }
    return this.viewer.importXML(diagram.bpmn_xml).then(function () {
      if (token !== self.token) {
        return; // another diagram was asked for meanwhile
      }
      self.viewer.get('canvas').zoom('fit-viewport', 'auto');
      applyMarkers(self.viewer, diagram);
      container.setAttribute('data-active', (diagram.active || []).join(' '));
      container.setAttribute('data-overdue', (diagram.overdue || []).join(' '));
      container.setAttribute('data-completed', (diagram.completed || []).join(' '));
      container.setAttribute('data-heat', Object.keys(diagram.heat || {}).map(function (id) {
        return id + ':' + diagram.heat[id];
      }).join(' '));
      self.status.textContent = '';
      container.setAttribute('data-diagram-ready', 'true');
    }).catch(function (error) {
      if (token !== self.token) {
        return;
      }
      self.status.textContent =
        'This diagram could not be drawn. The list below says where the case is.';
      container.setAttribute('data-diagram-ready', 'error');
      if (window.console) {
        window.console.error('case diagram:', error);
      }
    });
  };

  function start(container) {
    container.setAttribute('data-diagram-ready', 'false');
    var status = make(
      'p', { 'class': 'kf-diagram-status', 'role': 'status' }, 'Loading the diagram…'
    );
    container.appendChild(status);
    return diagramsFor(container)
      .then(function (diagrams) {
        if (!Array.isArray(diagrams) || diagrams.length === 0) {
          status.textContent = 'This case has no diagram to show.';
          container.setAttribute('data-diagram-ready', 'error');
          return;
        }
        status.textContent = '';
        return new CaseDiagram(container, diagrams, status).show(0);
      })
      .catch(function () {
        status.textContent = 'The diagram could not be loaded. Reload the page to try again.';
        container.setAttribute('data-diagram-ready', 'error');
      });
  }

  /* The diagrams: embedded in the page (data-diagram-source) or fetched (data-diagram-url). */
  function diagramsFor(container) {
    var source = container.getAttribute('data-diagram-source');
    if (source) {
      return new Promise(function (resolve) {
        resolve(JSON.parse(document.getElementById(source).textContent));
      });
    }
    var url = container.getAttribute('data-diagram-url');
    return fetch(url, { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error('HTTP ' + response.status);
        }
        return response.json();
      });
  }

  function startAll() {
    Array.prototype.forEach.call(document.querySelectorAll('.case-diagram'), start);
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', startAll);
  } else {
    startAll();
  }
}());
