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
   * Bytes of `manifest.json` that verification reads into memory. The manifest grows by a few
   * hundred bytes per item; this covers a mailbox of about a million items and stays below
   * the largest string V8 can hold.
   */
  manifestBytesVerified: 256 * 1024 * 1024,
});
