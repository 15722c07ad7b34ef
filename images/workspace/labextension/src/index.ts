/**
 * Enclave in JupyterLab: "Request export" on a file in /workspace, an "Exports" side panel with the project's
 * requests (and, in a blind project, "Submit job" and its jobs). Words follow the language chosen in Lab.
 */
import { ILabShell, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { Dialog, ICommandPalette, showDialog } from '@jupyterlab/apputils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { ILauncher } from '@jupyterlab/launcher';
import { ITranslator } from '@jupyterlab/translation';
import { listIcon, runIcon } from '@jupyterlab/ui-components';
import { call, IJobView, IRequestView } from './api';
import { el, ExportsPanel, FormBody, IField, messageBody, requestNode } from './ui';
import { fill, Lang, langOf, words } from './words';

const REQUEST_EXPORT = 'enclave:request-export';
const SUBMIT_JOB = 'enclave:submit-job';
const WORKSPACE = 'workspace/'; // the file browser's paths are relative to the server root, /srv/enclave

type Answered = { ok: true } | { ok: false; error: string; field: string };

/** Shows a form until it is cancelled or `send` accepts it; a refusal about a field is shown next to it. */
async function formLoop(
  lang: Lang, title: string, intro: () => Node | null, fields: IField[], required: string, missing: string,
  send: (values: Record<string, string>) => Promise<Answered>
): Promise<void> {
  const w = words(lang);
  let current = fields;
  for (;;) {
    const result = await showDialog({
      title, body: new FormBody(lang, intro(), current), focusNodeSelector: 'textarea, input',
      buttons: [Dialog.cancelButton({ label: w.cancel }), Dialog.okButton({ label: w.submit })]
    });
    if (!result.button.accept || !result.value) {
      return;
    }
    const values = result.value;
    const keep = (error: Record<string, string>) =>
      current.map(f => ({ ...f, value: values[f.name] ?? f.value, error: error[f.name] }));
    if (!values[required].trim()) {
      current = keep({ [required]: missing });
      continue;
    }
    const answer = await send(values);
    if (!answer.ok && answer.field && current.some(f => f.name === answer.field)) {
      current = keep({ [answer.field]: answer.error });
      continue;
    }
    return;
  }
}

function selected(factory: IFileBrowserFactory, dirs: boolean): string[] {
  const browser = factory.tracker.currentWidget;
  if (!browser) {
    return [];
  }
  return Array.from(browser.selectedItems())
    .filter(item => (item.type === 'directory') === dirs)
    .map(item => item.path);
}

const inWorkspace = (paths: string[]) => paths.length > 0 && paths.every(p => p.startsWith(WORKSPACE));

async function requestExport(lang: Lang, files: string[], panel: ExportsPanel): Promise<void> {
  const w = words(lang);
  const list = () => el('div', {}, el('p', {}, w.files), el('ul', {}, ...files.map(f => el('li', {}, el('code', {}, f)))));
  await formLoop(lang, w.requestExport, list,
    [{ name: 'justification', label: w.justification, value: '', multiline: true }],
    'justification', w.justificationMissing,
    async values => {
      const answer = await call<{ request: IRequestView }>(lang, 'exports',
        { files, justification: values.justification });
      if (answer.ok || !answer.field) {
        await showDialog({
          title: answer.ok ? fill(w.request, { id: answer.request.id }) : w.refused,
          body: messageBody(lang, answer.ok ? requestNode(lang, answer.request)
            : el('p', { class: 'enclave-refusal' }, answer.error)),
          buttons: [Dialog.okButton({ label: w.close })]
        });
        void panel.refresh();
      }
      return answer;
    });
}

async function submitJob(lang: Lang, code: string, panel: ExportsPanel): Promise<void> {
  const w = words(lang);
  await formLoop(lang, w.submitJob, () => null,
    [{ name: 'run', label: w.run, value: '' }, { name: 'outputs', label: w.outputs, value: 'results' },
      { name: 'code', label: w.code, value: code }],
    'run', w.runMissing,
    async values => {
      const answer = await call<{ job: IJobView }>(lang, 'jobs', values);
      if (answer.ok || !answer.field) {
        const text = answer.ok ? `${answer.job.state_text} · ${answer.job.outputs_text}` : answer.error;
        await showDialog({
          title: answer.ok ? fill(w.job, { id: answer.job.id }) : w.jobRefused,
          body: messageBody(lang, el('p', { class: answer.ok ? 'enclave-job' : 'enclave-refusal' }, text)),
          buttons: [Dialog.okButton({ label: w.close })]
        });
        void panel.refresh();
      }
      return answer;
    });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'enclave-lab:plugin',
  description: 'Export requests and blind-mode jobs from JupyterLab, without code.',
  autoStart: true,
  requires: [IFileBrowserFactory, ITranslator, ILabShell],
  optional: [ICommandPalette, ILauncher],
  activate: async (app: JupyterFrontEnd, factory: IFileBrowserFactory, translator: ITranslator,
    shell: ILabShell, palette: ICommandPalette | null, launcher: ILauncher | null) => {
    const lang = langOf(translator.languageCode);
    const w = words(lang);
    const panel = new ExportsPanel(lang, () => void app.commands.execute(SUBMIT_JOB));
    panel.title.icon = listIcon;
    panel.title.caption = w.exportsCaption;
    shell.add(panel, 'left', { rank: 700 });

    app.commands.addCommand(REQUEST_EXPORT, {
      label: w.requestExport,
      isVisible: () => inWorkspace(selected(factory, false)),
      execute: () => requestExport(lang, selected(factory, false), panel)
    });
    app.contextMenu.addItem({ command: REQUEST_EXPORT, selector: '.jp-DirListing-item[data-isdir="false"]', rank: 9 });

    const status = await call<{ jobs: boolean }>(lang, 'status');
    panel.jobs = status.ok && status.jobs;
    void panel.refresh();
    if (!panel.jobs) {
      return;
    }
    app.commands.addCommand(SUBMIT_JOB, {
      label: w.submitJob,
      caption: w.submitJob,
      icon: runIcon,
      execute: () => {
        const dirs = selected(factory, true).filter(p => p === 'workspace' || p.startsWith(WORKSPACE));
        const code = dirs.length === 1 ? dirs[0].slice(WORKSPACE.length) || '.' : '.';
        return submitJob(lang, code, panel);
      }
    });
    app.contextMenu.addItem({ command: SUBMIT_JOB, selector: '.jp-DirListing-item[data-isdir="true"]', rank: 9 });
    palette?.addItem({ command: SUBMIT_JOB, category: w.jobs });
    launcher?.add({ command: SUBMIT_JOB, category: w.jobs, rank: 1 });
  }
};

export default plugin;
