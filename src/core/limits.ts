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
});
