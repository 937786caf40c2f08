/**
 * Every limit on untrusted input, in one place, each with the reason for its value. Requests,
 * messages, calendars and names come from users and remote servers; none of them may make the
 * service use unbounded memory, time or disk.
 */

export const LIMITS = Object.freeze({
  /**
   * Bytes of a message's header block parsed for the manifest's subject, sender and date.
   * Real header blocks stay under 64 KiB; past this the fields are marked unparsed and the
   * message is still exported whole.
   */
  headerBytesParsed: 256 * 1024,
  /**
   * UTF-8 bytes of one folder name inside the zip. The name becomes a directory on the user's
   * disk: ext4, XFS and APFS cap a name at 255 bytes and NTFS at 255 UTF-16 units; 200 leaves
   * room for the ` (n)` suffix that tells apart names that collide once made safe.
   */
  folderNameBytes: 200,
  /**
   * Folder levels kept inside the zip. A zip entry name holds at most 65,535 bytes and deep
   * trees defeat unzip tools on Windows; the levels past this one are joined into the last.
   */
  folderDepth: 64,
  /**
   * Bytes of a calendar item read whole into memory to read its UID, SUMMARY and DTSTAMP and
   * to choose between 8bit and base64. Real items, overrides and time zones included, stay
   * under 1 MiB; a larger one is streamed as base64 and its fields are not read.
   */
  calendarItemBytesInMemory: 4 * 1024 * 1024,
  /**
   * Characters of one header value (subject, sender, message id) copied into the manifest.
   * A header block may hold 256 KiB; copied whole for every item it would swell the
   * manifest. Longer values are cut and marked truncated.
   */
  manifestFieldChars: 2048,
  /**
   * Characters of one line of `manifest.json` that verification reads: one record. The
   * largest a record can be, with every header field at `manifestFieldChars` and escaped at
   * six characters each, is under 100 KiB; a longer line is no manifest this tool wrote.
   */
  manifestLineChars: 4 * 1024 * 1024,
  /**
   * Problems `verify` keeps and prints; past this only their number is counted. A genuine
   * export with a damaged disk block shows a handful; a hostile zip of a million tiny entries
   * would otherwise print hundreds of MB of lines.
   */
  verifyProblemsKept: 1000,
  /**
   * Characters of an entry name or a message that `verify` quotes in one problem. Zip names
   * may hold 65,535 bytes and manifest lines 4 MiB; names this tool writes stay far below.
   */
  verifyQuotedChars: 1024,
  /**
   * Bytes of one WorkMail API request body. The largest valid request here (a
   * StartMailboxExportJob with every member at its model maximum) is under 8 KiB; 1 MiB leaves
   * room for any client's padding and still bounds what one connection makes us buffer.
   */
  apiBodyBytes: 1024 * 1024,
  /**
   * Milliseconds a client has to send its request headers (node's `headersTimeout`). Real
   * clients send them in one packet; this stops connections that trickle bytes to hold a slot.
   */
  apiHeadersTimeoutMs: 10_000,
  /**
   * Milliseconds a client has to send a whole request, body included (node's
   * `requestTimeout`). A 1 MiB body takes well under a second on any link that can reach us.
   */
  apiRequestTimeoutMs: 30_000,
  /**
   * Characters of a rejected value quoted in a validation message. AWS quotes values whole;
   * a value of up to a megabyte would make the error answer and the log that large.
   */
  apiValueQuotedChars: 128,
  /**
   * Seconds between a request's `X-Amz-Date` and our clock beyond which its signature is
   * refused: the 15 minutes of AWS's SigV4 documentation ("Signature Version 4 signing
   * process", time stamp). It bounds how long a captured request can be replayed.
   */
  sigv4ClockSkewSeconds: 15 * 60,
  /**
   * Encrypted data keys accepted in one stored object's header. Every object this service
   * writes has exactly one (one key per export); a header listing thousands would make a
   * reader call the key service thousands of times before it could refuse the object.
   */
  encryptedDataKeysPerObject: 1,
  /**
   * Bytes of the metadata record that the embedded object store keeps at the head of each
   * object file (plaintext size, key ARN, content type). Records are a few hundred bytes; the
   * content type a caller gives is cut to fit.
   */
  objectRecordBytes: 4096,
  /**
   * UTF-8 bytes of one calendar, address book or item file name in the embedded store, after
   * percent-encoding. File systems cap a name at 255 bytes; 200 leaves room for the extension,
   * a collision suffix and the temporary prefix. Longer names are cut and end in a hash.
   */
  storedFileNameBytes: 200,
  /**
   * Bytes at the start of each mbox line kept to recognize a `From ` separator or a header
   * (Content-Length, Status, Date). Longer lines are still copied whole; only their start is
   * looked at.
   */
  mboxLinePrefixBytes: 1024,
  /**
   * Length of a run of `>` before `From ` that an mbox import still unescapes. Real quoting
   * stays under a dozen levels; a longer run is copied as it is rather than buffered.
   */
  mboxQuoteRun: 1024,
  /**
   * Bytes of one unfolded iCalendar or vCard content line read to find UID, TZID and the
   * calendar's name. Real lines stay under a few KiB; a longer UID is compared by its start.
   */
  calendarLineBytesParsed: 16 * 1024,
  /**
   * Components of one `.ics` file whose places an import keeps in memory to split the file by
   * UID (about a hundred bytes each). A larger file is stored whole as one item.
   */
  calendarComponentsPerFile: 200_000,
  /**
   * Directory levels an import walks below its input. Mail folder trees are rarely deeper
   * than ten; a deeper directory (or a loop made by a bind mount) is reported and skipped.
   */
  importDirectoryDepth: 64,
  /**
   * Bytes of small messages fetched from an IMAP server in one UID FETCH and held until the
   * export has taken them. One command for many messages saves a round trip each; 8 MiB keeps
   * a job's memory small next to the zip stream.
   */
  imapBatchBytes: 8 * 1024 * 1024,
  /**
   * Messages of an IMAP folder fetched in one UID FETCH, whatever their size, so that a
   * command line and one answer stay short even for a server that lists sizes of zero.
   */
  imapBatchMessages: 500,
  /**
   * An IMAP message larger than this (by its RFC822.SIZE) is streamed in chunks instead of
   * fetched whole with others.
   */
  imapStreamThreshold: 1024 * 1024,
  /** Bytes asked for per partial fetch (`BODY.PEEK[]<offset.count>`) of a streamed message. */
  imapChunkBytes: 1024 * 1024,
  /**
   * Largest literal accepted from an IMAP server. Every literal this service asks for is at
   * most a chunk or a small message; 64 MiB leaves room for a server that ignores partial
   * fetches (and then sends a whole message) while refusing one that announces gigabytes.
   */
  imapLiteralBytes: 64 * 1024 * 1024,
  /**
   * Longest IMAP response line without its literals (FLAGS lists, LIST answers). Real lines
   * stay under a few KiB; imapflow's own default is 1 GiB.
   */
  imapLineBytes: 8 * 1024 * 1024,
  /**
   * Bytes of one WebDAV answer (PROPFIND, REPORT) read into memory. A calendar of 10,000
   * items lists in about 3 MiB; calendar data itself is streamed by GET and not bound here.
   */
  davResponseBytes: 64 * 1024 * 1024,
});
