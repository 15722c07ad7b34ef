/** Every sentence the extension shows, in the two languages of the enclave (the server's answers are too). */
export type Lang = 'en' | 'zh-CN';

const EN = {
  sep: ': ',
  requestExport: 'Request export',
  exports: 'Exports',
  exportsCaption: 'Your export requests in this project',
  submitJob: 'Submit job',
  jobs: 'Jobs',
  refresh: 'Refresh',
  files: 'Files to export',
  justification: 'Justification: what the files are and why they are safe to leave',
  justificationMissing: 'Say what the files are and why they are safe to leave the enclave.',
  submit: 'Submit',
  cancel: 'Cancel',
  close: 'Close',
  request: 'Export request {id}',
  state: 'State',
  verdict: 'Automated check',
  file: 'File',
  findings: 'Findings',
  next: 'What happens next',
  open: 'Open the request page',
  refused: 'The request was not made',
  none: 'No export requests in this project yet.',
  run: 'Command to run',
  runMissing: 'Give the command to run, for example: python analysis/main.py',
  outputs: 'Outputs folder (in /workspace)',
  code: 'Code folder (in /workspace)',
  job: 'Job {id}',
  number: 'No.',
  jobRefused: 'The job was not submitted',
  command: 'Command',
  exitCode: 'Exit code',
  outputsBack: 'Outputs',
  noJobs: 'No jobs in this project yet.',
  loading: 'Loading…',
  failed: 'The enclave did not answer: {reason}'
};
type Words = typeof EN;

const ZH: Words = {
  sep: '：',
  requestExport: '申请导出',
  exports: '导出申请',
  exportsCaption: '我在本项目中的导出申请',
  submitJob: '提交作业',
  jobs: '作业',
  refresh: '刷新',
  files: '要导出的文件',
  justification: '申请理由：这些文件是什么，为什么可以安全带出',
  justificationMissing: '请说明这些文件是什么，以及为什么可以安全地带出安全环境。',
  submit: '提交',
  cancel: '取消',
  close: '关闭',
  request: '导出申请 {id}',
  state: '状态',
  verdict: '自动检查',
  file: '文件',
  findings: '检查发现',
  next: '接下来',
  open: '打开申请页面',
  refused: '申请未能提交',
  none: '本项目中还没有导出申请。',
  run: '要运行的命令',
  runMissing: '请填写要运行的命令，例如：python analysis/main.py',
  outputs: '输出文件夹（在 /workspace 中）',
  code: '代码文件夹（在 /workspace 中）',
  job: '作业 {id}',
  number: '编号',
  jobRefused: '作业未能提交',
  command: '命令',
  exitCode: '退出码',
  outputsBack: '输出',
  noJobs: '本项目中还没有作业。',
  loading: '正在加载…',
  failed: '安全环境没有响应：{reason}'
};

/** zh-CN for any Chinese locale JupyterLab reports (zh-CN, zh_CN), English otherwise. */
export function langOf(code: string): Lang {
  return code.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

export function words(lang: Lang): Words {
  return lang === 'zh-CN' ? ZH : EN;
}

export function fill(text: string, values: Record<string, string | number>): string {
  return text.replace(/\{(\w+)\}/g, (_m, k: string) => String(values[k] ?? ''));
}
