export {
  openEmbeddedMailbox,
  openMailboxDir,
  type EmbeddedMailboxOptions,
} from './embedded-source.js';
export {
  MailboxWriter,
  type DeliverOptions,
  type ItemBody,
  type MailboxWriterOptions,
  type StoredItem,
} from './writer.js';
export { decodeModifiedUtf7, encodeModifiedUtf7 } from './mutf7.js';
export { CALENDARS, CONTACTS, INBOX, MAILDIR, maildirDirName } from './layout.js';
