export { importPath, type ImportOptions } from './import-path.js';
export { DEFAULT_MBOX_FORMAT, type MboxFormat } from './mbox-unescape.js';
export type { ImportReport, ImportedFolder, ImportNote, SkippedInput } from './report.js';
