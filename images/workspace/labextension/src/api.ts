/** The server extension's endpoints (images/workspace/enclave_lab.py): the browser reaches no service itself. */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { Lang } from './words';

export interface IFileView {
  name: string;
  verdict: string;
  verdict_text: string;
  findings: string[];
}

export interface IRequestView {
  id: number;
  state: string;
  state_text: string;
  verdict: string;
  verdict_text: string;
  files: IFileView[];
  next: string;
  link: string;
}

export interface IJobView {
  id: number;
  command: string;
  state: string;
  state_text: string;
  exit_code: number | null;
  outputs_back: boolean;
  outputs_text: string;
}

/** A refusal: one sentence, and the form field it is about ('' when none). */
export interface IRefusal {
  error: string;
  field: string;
}

export type Answer<T> = ({ ok: true } & T) | ({ ok: false } & IRefusal);

export async function call<T>(lang: Lang, path: string, body?: object): Promise<Answer<T>> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'enclave', path) + '?lang=' + encodeURIComponent(lang);
  const init: RequestInit = body ? { method: 'POST', body: JSON.stringify(body) } : { method: 'GET' };
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (err) {
    return { ok: false, error: String(err), field: '' };
  }
  let data: unknown;
  try {
    data = await response.json();
  } catch {
    return { ok: false, error: `${response.status} ${response.statusText}`, field: '' };
  }
  if (!response.ok) {
    const refusal = data as Partial<IRefusal>;
    return { ok: false, error: refusal.error || String(response.status), field: refusal.field || '' };
  }
  return { ok: true, ...(data as T) };
}
