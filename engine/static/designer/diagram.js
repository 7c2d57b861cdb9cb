/* Draws the diagrams of a page with bpmn-js / dmn-js (served from this app, never a CDN).
 *
 * Each <section class="ow-diagrams"> names where its data comes from: data-diagram-src, a guarded JSON
 * route, or data-diagram-text, the id of a textarea holding the same JSON (a refused upload, which is
 * stored nowhere). The JSON is {"diagrams": [{name, kind, xml, markers}]}; markers say what to mark:
 * current / done / overdue / late elements of a case, or the lint problems per element of a file.
 * Text from a file (names, messages) is only ever set as text, never as markup.
 * The section's data-state ends "ready" or "failed" (the browser tests wait for it).
 */
(function () {
  'use strict';

  function label(section, name) {
    return section.getAttribute('data-label-' + name) || '';
  }

  function load(section) {
    var inline = section.getAttribute('data-diagram-text');
    if (inline) {
      return Promise.resolve(JSON.parse(document.getElementById(inline).value));
    }
    return fetch(section.getAttribute('data-diagram-src'), {
      credentials: 'same-origin', headers: { Accept: 'application/json' }
    }).then(function (response) {
      if (!response.ok) { throw new Error(response.status + ' ' + response.statusText); }
      return response.json();
    });
  }

  function badge(text, cls, title) {
    var span = document.createElement('span');
    span.className = 'ow-badge ' + cls;
    span.textContent = text;
    if (title) { span.title = title; }
    return span;
  }

  function figure(section, diagram) {
    var fig = document.createElement('figure');
    fig.className = 'ow-diagram ow-' + diagram.kind;
    fig.setAttribute('data-name', diagram.name);
    var caption = document.createElement('figcaption');
    caption.textContent = diagram.name;
    var canvas = document.createElement('div');
    canvas.className = 'ow-canvas';
    fig.appendChild(caption);
    fig.appendChild(canvas);
    section.insertBefore(fig, section.querySelector('.ow-diagram-status'));
    return fig;
  }

  function showRow(id) {
    var row = document.querySelector('#problems tr[data-element="' + CSS.escape(id) + '"]');
    if (!row) { return; }
    document.querySelectorAll('#problems tr.ow-picked').forEach(function (r) { r.classList.remove('ow-picked'); });
    row.classList.add('ow-picked');
    row.scrollIntoView({ block: 'center' });
  }

  function markProblems(section, viewer, problems) {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    var overlays = viewer.get('overlays');
    Object.keys(problems || {}).forEach(function (id) {
      if (!registry.get(id)) { return; }
      var items = problems[id];
      var errors = items.filter(function (p) { return !p.warning; }).length;
      canvas.addMarker(id, errors ? 'ow-problem' : 'ow-warning');
      var text = items.map(function (p) { return p.message; }).join('\n');
      overlays.add(id, 'ow-problems', {
        position: { top: -10, right: 10 },
        html: badge(String(items.length), errors ? 'ow-badge-problem' : 'ow-badge-warning',
                    items.length + label(section, 'problems') + '\n' + text)
      });
    });
    viewer.get('eventBus').on('element.click', function (event) {
      if (problems && problems[event.element.id]) { showRow(event.element.id); }
    });
  }

  function markCase(section, viewer, markers) {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    var overlays = viewer.get('overlays');
    function each(ids, cls) {
      (ids || []).forEach(function (id) { if (registry.get(id)) { canvas.addMarker(id, cls); } });
    }
    var done = markers.done || {};
    each(Object.keys(done), 'ow-done');
    each(markers.late, 'ow-late');
    each(markers.current, 'ow-current');
    each(markers.overdue, 'ow-overdue');
    (markers.overdue || []).forEach(function (id) {
      if (registry.get(id)) {
        overlays.add(id, 'ow-overdue', { position: { top: -10, left: -6 }, html: badge(label(section, 'overdue'), 'ow-badge-problem') });
      }
    });
    Object.keys(done).forEach(function (id) {
      if (done[id] > 1 && registry.get(id)) {
        overlays.add(id, 'ow-times', {
          position: { bottom: 10, right: 10 }, html: badge('×' + done[id], 'ow-badge-times', done[id] + label(section, 'times'))
        });
      }
    });
  }

  function showBpmn(section, fig, diagram) {
    var viewer = new window.BpmnJS({ container: fig.querySelector('.ow-canvas') });
    return viewer.importXML(diagram.xml).then(function () {
      viewer.get('canvas').zoom('fit-viewport');
      var markers = diagram.markers || {};
      if (markers.problems) { markProblems(section, viewer, markers.problems); }
      if (markers.current || markers.done) { markCase(section, viewer, markers); }
      fig.setAttribute('data-state', 'ready');
    });
  }

  function showDmn(section, fig, diagram) {
    var viewer = new window.DmnJS({ container: fig.querySelector('.ow-canvas') });
    return viewer.importXML(diagram.xml).then(function () {
      var views = viewer.getViews();
      var nav = document.createElement('p');
      nav.className = 'ow-views';
      views.forEach(function (view) {
        var button = document.createElement('button');
        button.type = 'button';
        button.textContent = view.name || view.id;
        button.addEventListener('click', function () { viewer.open(view); });
        nav.appendChild(button);
      });
      fig.insertBefore(nav, fig.querySelector('.ow-canvas'));
      var table = views.filter(function (v) { return v.type === 'decisionTable'; })[0];
      return (table ? viewer.open(table) : Promise.resolve()).then(function () {
        fig.setAttribute('data-state', 'ready');
      });
    });
  }

  function draw(section) {
    var status = section.querySelector('.ow-diagram-status');
    section.setAttribute('data-state', 'loading');
    load(section).then(function (data) {
      return Promise.all((data.diagrams || []).map(function (diagram) {
        var fig = figure(section, diagram);
        var shown = diagram.kind === 'dmn' ? showDmn(section, fig, diagram) : showBpmn(section, fig, diagram);
        return shown.catch(function (err) {
          fig.setAttribute('data-state', 'failed');
          fig.querySelector('.ow-canvas').remove();
          var note = document.createElement('p');
          note.className = 'ow-diagram-note';
          var noDi = /no diagram to display/i.test(String(err && err.message));
          note.textContent = noDi ? label(section, 'no-di') : label(section, 'failed') + (err && err.message);
          fig.appendChild(note);
        });
      }));
    }).then(function () {
      status.remove();
      section.setAttribute('data-state', 'ready');
    }).catch(function (err) {
      status.textContent = label(section, 'failed') + (err && err.message);
      section.setAttribute('data-state', 'failed');
    });
  }

  document.querySelectorAll('section.ow-diagrams').forEach(draw);
}());
