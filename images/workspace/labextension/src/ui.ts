/** The dialogs' bodies and the side panel, as plain DOM in Lumino widgets (no framework needed for this). */
import { Widget } from '@lumino/widgets';
import { call, IJobView, IRequestView } from './api';
import { fill, Lang, words } from './words';

type Child = Node | string;

export function el(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElement {
  const node = document.createElement(tag);
  Object.entries(attrs).forEach(([k, v]) => node.setAttribute(k, v));
  children.forEach(c => node.append(c));
  return node;
}

export interface IField {
  name: string;
  label: string;
  value: string;
  multiline?: boolean;
  error?: string;
}

/** A form of labelled fields; a field's problem is shown next to it and announced (aria-describedby). */
export class FormBody extends Widget {
  constructor(lang: Lang, intro: Node | null, fields: IField[]) {
    super();
    this.addClass('enclave-form');
    this.node.setAttribute('lang', lang);
    if (intro) {
      this.node.append(intro);
    }
    fields.forEach(f => {
      const id = `enclave-field-${f.name}`;
      const input = el(f.multiline ? 'textarea' : 'input', { id, name: f.name, class: 'jp-mod-styled' });
      (input as HTMLInputElement).value = f.value;
      const row = el('div', { class: 'enclave-field' }, el('label', { for: id }, f.label), input);
      if (f.error) {
        input.setAttribute('aria-invalid', 'true');
        input.setAttribute('aria-describedby', `${id}-error`);
        row.append(el('p', { id: `${id}-error`, class: 'enclave-error', role: 'alert' }, f.error));
      }
      this.node.append(row);
      this._inputs[f.name] = input as HTMLInputElement;
    });
  }

  getValue(): Record<string, string> {
    const out: Record<string, string> = {};
    Object.entries(this._inputs).forEach(([k, input]) => (out[k] = input.value));
    return out;
  }

  private _inputs: Record<string, HTMLInputElement> = {};
}

/** One request as words: state, each file's verdict and findings, what happens next, the page's link. */
export function requestNode(lang: Lang, r: IRequestView): HTMLElement {
  const w = words(lang);
  const rows = r.files.map(f =>
    el('tr', {}, el('td', {}, f.name), el('td', {}, f.verdict_text),
      el('td', {}, f.findings.length ? el('ul', {}, ...f.findings.map(x => el('li', {}, x))) : '—'))
  );
  const table = rows.length
    ? el('table', { class: 'enclave-table' },
      el('thead', {}, el('tr', {}, ...[w.file, w.verdict, w.findings].map(h => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, ...rows))
    : el('p', {}, `${w.verdict}${w.sep}${r.verdict_text}`);
  return el('section', { class: 'enclave-request', 'data-request': String(r.id) },
    el('h3', {}, fill(w.request, { id: r.id })),
    el('p', {}, `${w.state}${w.sep}`, el('span', { class: 'enclave-state' }, r.state_text)),
    table,
    el('p', {}, el('strong', {}, `${w.next}${w.sep}`), r.next),
    el('p', {}, el('a', { href: r.link, target: '_blank', rel: 'noopener' }, w.open)));
}

export function messageBody(lang: Lang, node: HTMLElement): Widget {
  const body = new Widget({ node: el('div', { class: 'enclave-result', lang }, node) });
  return body;
}

function jobsTable(lang: Lang, jobs: IJobView[]): HTMLElement {
  const w = words(lang);
  if (!jobs.length) {
    return el('p', {}, w.noJobs);
  }
  const head = [w.number, w.command, w.state, w.exitCode, w.outputsBack];
  return el('table', { class: 'enclave-table' },
    el('thead', {}, el('tr', {}, ...head.map(h => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ...jobs.map(j => el('tr', { 'data-job': String(j.id) },
      el('td', {}, String(j.id)), el('td', {}, el('code', {}, j.command || '')), el('td', {}, j.state_text),
      el('td', {}, j.exit_code === null || j.exit_code === undefined ? '—' : String(j.exit_code)),
      el('td', {}, j.outputs_text)))));
}

/** The "Exports" side panel: the project's requests, and its jobs in a blind project. */
export class ExportsPanel extends Widget {
  constructor(lang: Lang, onSubmitJob: () => void) {
    super();
    this._lang = lang;
    this._onSubmitJob = onSubmitJob;
    this.id = 'enclave-exports';
    this.addClass('enclave-panel');
    this.node.setAttribute('lang', lang);
    this.node.setAttribute('role', 'region');
    this.node.setAttribute('aria-label', words(lang).exports);
  }

  /** Opening the panel shows the requests as they are now (reviews happen elsewhere). */
  protected onAfterShow(_msg: unknown): void {
    void this.refresh();
  }

  set jobs(value: boolean) {
    this._jobs = value;
  }

  async refresh(): Promise<void> {
    const w = words(this._lang);
    const button = el('button', { class: 'jp-mod-styled jp-mod-accept enclave-refresh', type: 'button' }, w.refresh);
    button.addEventListener('click', () => void this.refresh());
    const header = el('div', { class: 'enclave-header' }, el('h2', {}, w.exports), button);
    const list = el('div', { class: 'enclave-list', 'aria-live': 'polite' }, w.loading);
    this.node.replaceChildren(header, list);
    const answer = await call<{ requests: IRequestView[] }>(this._lang, 'exports');
    list.replaceChildren(...(answer.ok
      ? (answer.requests.length ? answer.requests.map(r => requestNode(this._lang, r)) : [el('p', {}, w.none)])
      : [el('p', { class: 'enclave-error' }, fill(w.failed, { reason: answer.error }))]));
    if (this._jobs) {
      await this._showJobs();
    }
  }

  private async _showJobs(): Promise<void> {
    const w = words(this._lang);
    const submit = el('button', { class: 'jp-mod-styled jp-mod-accept', type: 'button' }, w.submitJob);
    submit.addEventListener('click', () => this._onSubmitJob());
    const box = el('div', { class: 'enclave-list' }, w.loading);
    this.node.append(el('div', { class: 'enclave-header' }, el('h2', {}, w.jobs), submit), box);
    const answer = await call<{ jobs: IJobView[] }>(this._lang, 'jobs');
    box.replaceChildren(answer.ok ? jobsTable(this._lang, answer.jobs)
      : el('p', { class: 'enclave-error' }, answer.error));
  }

  private _lang: Lang;
  private _jobs = false;
  private _onSubmitJob: () => void;
}
