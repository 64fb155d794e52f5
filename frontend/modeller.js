/* The process owners' modeller (webapp/modeller.py) and the version comparison page.
 *
 * Bundled by esbuild (`npm run build`, run by `make install`) into webapp/static/build/,
 * with the libraries' CSS; the bundle is never committed. The bpmn.io watermark that bpmn-js
 * draws must stay visible (its licence).
 *
 * Saving: every change is written to the draft on the server within a few seconds, with the
 * revision this page last saw, so another window's save is reported, never overwritten. A copy
 * of unsaved work also sits in localStorage until the server has it: if the tab is closed or
 * the browser dies before a save lands, reopening the draft restores it (only while the
 * server still has the revision the copy was made from).
 */
import BpmnModeler from 'bpmn-js/lib/Modeler';
import NavigatedViewer from 'bpmn-js/lib/NavigatedViewer';
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule
} from 'bpmn-js-properties-panel';
import CamundaBehaviorsModule from 'camunda-bpmn-js-behaviors/lib/camunda-platform';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';

import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';

const AUTOSAVE_MS = 3000;

function readData(id) {
  const node = document.getElementById(id);
  return node ? JSON.parse(node.textContent) : null;
}

function make(tag, attrs, text) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([name, value]) => node.setAttribute(name, value));
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/* POST JSON; answers {status, data}. A page that is not JSON (the sign-in page after a
 * session ended, an expired form token) becomes a message instead of an exception. */
async function postJson(url, body, keepalive) {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  let response;
  try {
    response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      keepalive: Boolean(keepalive),
      headers: { 'Content-Type': 'application/json', 'X-CSRFToken': token },
      body: JSON.stringify(body)
    });
  } catch (error) {
    return { status: 0, data: { message: 'Kinflow could not be reached; check the connection.' } };
  }
  const type = response.headers.get('Content-Type') || '';
  if (!type.includes('application/json')) {
    return {
      status: response.status || 400,
      data: { message: 'you may have been signed out; sign in again in another tab, then reload this page.' }
    };
  }
  return { status: response.status, data: await response.json() };
}

/* ---------------------------------------------------------------- the draft page ------ */

function startModeller(page) {
  const modeler = new BpmnModeler({
    container: '#kf-canvas',
    propertiesPanel: { parent: '#kf-properties' },
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      CamundaPlatformPropertiesProviderModule,
      CamundaBehaviorsModule
    ],
    moddleExtensions: { camunda: camundaModdle }
  });
  const status = document.getElementById('kf-status');
  const buttons = ['kf-save', 'kf-validate', 'kf-deploy', 'kf-export'].map((id) =>
    document.getElementById(id)
  );
  const backupKey = `kinflow-modeller-${page.draftId}-${page.file}`;
  const state = {
    revision: page.revision,
    xml: page.xml, // the diagram as last written out of the modeller
    dirty: false,
    saving: null, // the request in flight (a save or a deploy), if any
    inFlight: null, // the XML it carries
    stopped: null, // why saving stopped (a conflict, a failed import): nothing is sent after
    generation: 0
  };

  function say(text) {
    status.textContent = text;
  }

  /* The copy in localStorage: the newest XML, the revision it was made on, and the XML of a
   * save in flight, so a reopened page can tell whether that save landed. */
  function keepBackup() {
    const copy = { revision: state.revision, xml: state.xml, sent: state.inFlight };
    try {
      localStorage.setItem(backupKey, JSON.stringify(copy));
    } catch (error) {
      /* storage full or disabled: the server copy is all there is */
    }
  }

  function dropBackup() {
    localStorage.removeItem(backupKey);
  }

  async function writeOut() {
    const generation = ++state.generation;
    const { xml } = await modeler.saveXML({ format: true });
    if (generation === state.generation) {
      state.xml = xml;
    }
    return xml;
  }

  modeler.on('commandStack.changed', async (event) => {
    if (event.trigger === 'clear') {
      return; // a diagram was (re)imported, not edited
    }
    state.dirty = true;
    try {
      await writeOut();
      keepBackup();
      if (!state.saving && !state.stopped) {
        say('Unsaved changes');
      }
    } catch (error) {
      say(`Not saved: the diagram cannot be written out (${error.message}).`);
    }
  });

  /* Post the diagram as it is now to the save or deploy address, with the revision last
   * seen. One request at a time (callers wait for state.saving), so this page never races
   * itself with a stale revision. A deploy saves first, so both answer with the revision. */
  function send(url, keepalive) {
    const sent = state.xml;
    state.dirty = false;
    state.inFlight = sent;
    keepBackup();
    const body = { revision: state.revision, file: page.file, xml: sent };
    state.saving = postJson(url, body, keepalive).then((answer) => {
      state.saving = null;
      state.inFlight = null;
      if (answer.data.revision) {
        state.revision = answer.data.revision;
      } else {
        state.dirty = true;
      }
      if (answer.status === 409) {
        state.stopped = `${answer.data.message} Export your copy first if you need it.`;
      }
      if (state.xml === sent && !state.dirty) {
        dropBackup();
      } else {
        keepBackup(); // newer changes wait for the next save
      }
      return answer;
    });
    return state.saving;
  }

  async function idle() {
    while (state.saving) {
      await state.saving;
    }
  }

  async function save() {
    await idle();
    if (state.stopped) {
      say(`Not saved: ${state.stopped}`);
      return false;
    }
    if (!state.dirty) {
      return true;
    }
    say('Saving…');
    const { status: code, data } = await send(page.urls.save, false);
    if (code === 200) {
      say(`Saved ${data.saved_at}`);
      return true;
    }
    say(`Not saved: ${state.stopped || data.message}`);
    return false;
  }

  /* The diagram and the draft's other files are checked on the server; a problem on an
   * element of this diagram is marked on it, and its button selects that element. */
  const registry = modeler.get('elementRegistry');
  const canvas = modeler.get('canvas');
  const overlays = modeler.get('overlays');
  const selection = modeler.get('selection');
  let marked = [];

  function clearMarks() {
    marked.forEach((id) => {
      if (registry.get(id)) {
        canvas.removeMarker(id, 'kf-problem');
      }
    });
    overlays.remove({ type: 'kf-problem' });
    marked = [];
  }

  function focusElement(id) {
    const element = registry.get(id);
    if (element) {
      selection.select(element);
      canvas.scrollToElement(element);
    }
  }

  function problemText(problem) {
    const where = problem.line ? `${problem.file}:${problem.line}` : problem.file;
    const element = problem.element ? `${problem.element}: ` : '';
    return `${where}: ${element}${problem.message}`;
  }

  function showProblems(problems, summary) {
    clearMarks();
    const section = document.getElementById('kf-problems');
    const list = document.getElementById('kf-problem-list');
    list.textContent = '';
    document.getElementById('kf-problem-summary').textContent = summary;
    problems.forEach((problem) => {
      const item = make('li');
      const id = problem.element_id;
      if (id && problem.file === page.file && registry.get(id)) {
        if (!marked.includes(id)) {
          marked.push(id);
          canvas.addMarker(id, 'kf-problem');
          overlays.add(id, 'kf-problem', {
            position: { top: -14, right: 14 },
            html: make('span', { class: 'kf-problem-badge', title: problem.message }, '!')
          });
        }
        const button = make('button', { type: 'button', class: 'link-button' }, problemText(problem));
        button.addEventListener('click', () => focusElement(id));
        item.appendChild(button);
      } else if (id && problem.file !== page.file && page.files.includes(problem.file)) {
        const url = `${page.urls.self}?file=${encodeURIComponent(problem.file)}`;
        item.appendChild(make('a', { href: url }, problemText(problem)));
      } else {
        item.textContent = problemText(problem);
      }
      list.appendChild(item);
    });
    section.hidden = false;
    document.getElementById('kf-problems-heading').focus();
  }

  function plural(count, word) {
    return `${count} ${word}${count === 1 ? '' : 's'}`;
  }

  async function validate() {
    let xml;
    try {
      xml = await writeOut();
    } catch (error) {
      say(`Not validated: the diagram cannot be written out (${error.message}).`);
      return;
    }
    say('Validating…');
    const { status: code, data } = await postJson(page.urls.validate, { file: page.file, xml });
    if (code !== 200) {
      say(`Not validated: ${data.message}`);
      return;
    }
    const problems = data.problems;
    showProblems(
      problems,
      problems.length
        ? `${plural(problems.length, 'problem')}: fix them before deploying.`
        : 'No problems: this draft can be deployed.'
    );
    say(problems.length ? `Validated: ${plural(problems.length, 'problem')}` : 'Validated: no problems');
  }

  async function deploy() {
    try {
      await writeOut();
    } catch (error) {
      say(`Not deployed: the diagram cannot be written out (${error.message}).`);
      return;
    }
    await idle();
    if (state.stopped) {
      say(`Not deployed: ${state.stopped}`);
      return;
    }
    say('Deploying…');
    const { status: code, data } = await send(page.urls.deploy, false);
    if (code === 422) {
      const count = plural(data.problems.length, 'problem');
      showProblems(data.problems, `Not deployed: ${count}. The draft is saved.`);
      say(`Not deployed: ${count} (draft saved ${data.saved_at})`);
      return;
    }
    if (code !== 200) {
      say(`Not deployed: ${state.stopped || data.message}`);
      return;
    }
    clearMarks();
    document.getElementById('kf-problems').hidden = true;
    showDeployed(data.versions);
    say(`Deployed; draft saved ${data.saved_at}`);
  }

  function showDeployed(versions) {
    const list = document.getElementById('kf-deployed-list');
    list.textContent = '';
    versions.forEach((version) => {
      const item = make(
        'li',
        { 'data-version-id': String(version.id) },
        version.created
          ? `${version.name}: version ${version.version} deployed. `
          : `${version.name}: unchanged, version ${version.version} already has this content. `
      );
      if (version.compare_url) {
        item.appendChild(make('a', { href: version.compare_url }, `Compare with version ${version.version - 1}`));
        item.append(' ', make('a', { href: `/modeller/versions/${version.id}/migrate` }, 'Running cases on older versions'));
      }
      list.appendChild(item);
    });
    document.getElementById('kf-deployed').hidden = false;
    document.getElementById('kf-deployed-heading').focus();
  }

  async function exportFile() {
    try {
      const xml = await writeOut();
      const link = make('a', {
        href: URL.createObjectURL(new Blob([xml], { type: 'application/xml' })),
        download: page.file
      });
      document.body.appendChild(link);
      link.click();
      link.remove();
    } catch (error) {
      say(`Not exported: the diagram cannot be written out (${error.message}).`);
    }
  }

  /* Leaving: save at once (keepalive lets the request outlive the page). The localStorage
   * copy covers a request the browser refuses (keepalive bodies are limited to 64 KB). */
  function leaving() {
    if (state.dirty || state.saving) {
      keepBackup();
    }
    if (state.dirty && !state.saving && !state.stopped) {
      send(page.urls.save, true);
    }
  }
  window.addEventListener('pagehide', leaving);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') {
      leaving();
    }
  });
  /* Switching to another diagram of the draft: save this one first. */
  document.querySelectorAll('[data-kf-file]').forEach((link) => {
    link.addEventListener('click', async (event) => {
      if (state.dirty || state.saving) {
        event.preventDefault();
        await save(); // if it fails, the copy in this browser is restored on return
        window.location.href = link.href;
      }
    });
  });

  async function open() {
    let xml = page.xml;
    let restored = false;
    try {
      const backup = JSON.parse(localStorage.getItem(backupKey) || 'null');
      // Unsaved work applies if the server has not moved since, or moved only by the save
      // that was in flight when the copy was made.
      const landed = backup && backup.sent === page.xml && backup.revision + 1 === page.revision;
      if (backup && (backup.revision === page.revision || landed) && backup.xml !== page.xml) {
        xml = backup.xml;
        restored = true;
      } else if (backup) {
        localStorage.removeItem(backupKey); // the server has moved on since this copy
      }
    } catch (error) {
      /* an unreadable copy is no copy */
    }
    try {
      const result = await modeler.importXML(xml);
      canvas.zoom('fit-viewport');
      const warnings = result.warnings.length;
      buttons.forEach((button) => {
        button.disabled = false;
      });
      if (restored) {
        state.xml = xml;
        state.dirty = true;
        say('Restored changes this browser had not saved yet; saving them now…');
        save();
      } else {
        say(`Saved ${page.savedAt}${warnings ? ` (opened with ${plural(warnings, 'warning')})` : ''}`);
      }
    } catch (error) {
      state.stopped = 'this diagram could not be opened in the modeller, so nothing is saved here.';
      say(`Not opened: ${error.message}. The draft on the server is unchanged.`);
    }
  }

  document.getElementById('kf-save').addEventListener('click', () => save());
  document.getElementById('kf-validate').addEventListener('click', validate);
  document.getElementById('kf-deploy').addEventListener('click', deploy);
  document.getElementById('kf-export').addEventListener('click', exportFile);
  setInterval(() => {
    if (state.dirty && !state.stopped) {
      save();
    }
  }, AUTOSAVE_MS);

  // For the browser tests and for anyone scripting the page from the console.
  window.kinflowModeller = { modeler, state, save, validate, deploy, ready: open() };
}

/* -------------------------------------------------------------- the compare page ------ */

async function startCompare(page) {
  const viewer = new NavigatedViewer({ container: '#kf-compare-canvas' });
  const container = document.getElementById('kf-compare-canvas');
  try {
    await viewer.importXML(page.xml);
  } catch (error) {
    container.dataset.diagramReady = 'error';
    container.appendChild(make('p', { class: 'error-message' }, `The diagram could not be drawn: ${error.message}`));
    return;
  }
  const canvas = viewer.get('canvas');
  const registry = viewer.get('elementRegistry');
  canvas.zoom('fit-viewport');
  ['added', 'changed'].forEach((kind) => {
    page[kind].filter((id) => registry.get(id)).forEach((id) => canvas.addMarker(id, `kf-${kind}`));
  });
  document.querySelectorAll('[data-kf-element]').forEach((button) => {
    button.addEventListener('click', () => {
      const element = registry.get(button.dataset.kfElement);
      if (element) {
        canvas.scrollToElement(element);
        container.scrollIntoView({ block: 'nearest' });
      }
    });
  });
  container.dataset.diagramReady = 'true';
  window.kinflowCompare = { viewer };
}

const modellerPage = readData('kf-modeller-data');
if (modellerPage) {
  startModeller(modellerPage);
}
const comparePage = readData('kf-compare-data');
if (comparePage) {
  startCompare(comparePage);
}
