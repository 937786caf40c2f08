import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import fc from 'fast-check';

import { decodeModifiedUtf7, encodeModifiedUtf7 } from '../../src/store/mutf7.js';
import { folderPathOfDirName, maildirDirName } from '../../src/store/layout.js';

describe('modified UTF-7 (RFC 3501 5.1.3)', () => {
  it('encodes the RFC example and names Dovecot wrote', () => {
    assert.equal(encodeModifiedUtf7('~peter/mail/台北/日本語'), '~peter/mail/&U,BTFw-/&ZeVnLIqe-');
    // Directory names seen from `doveadm mailbox create` on Dovecot 2.3.
    assert.equal(encodeModifiedUtf7('Ärger'), '&AMQ-rger');
    assert.equal(encodeModifiedUtf7('日本'), '&ZeVnLA-');
    assert.equal(encodeModifiedUtf7('Tom & Jerry'), 'Tom &- Jerry');
  });

  it('decodes them back', () => {
    assert.equal(decodeModifiedUtf7('~peter/mail/&U,BTFw-/&ZeVnLIqe-'), '~peter/mail/台北/日本語');
    assert.equal(decodeModifiedUtf7('&AMQ-rger'), 'Ärger');
    assert.equal(decodeModifiedUtf7('Tom &- Jerry'), 'Tom & Jerry');
  });

  it('shifts the hierarchy characters when asked, and decoding gives them back', () => {
    assert.equal(encodeModifiedUtf7('a.b/c', './'), 'a&AC4-b&AC8-c');
    assert.equal(decodeModifiedUtf7('a&AC4-b&AC8-c'), 'a.b/c');
  });

  it('refuses text that is not modified UTF-7', () => {
    for (const bad of ['Ärger', '&AMQ', '&AMQ!-', '&A-', '&AMR-', 'tab\there']) {
      assert.equal(decodeModifiedUtf7(bad), undefined, bad);
    }
  });

  it('round-trips any name', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (name) => {
        const encoded = encodeModifiedUtf7(name, './');
        assert.match(encoded, /^[\x20-\x7e]*$/);
        assert.ok(!encoded.includes('.') && !encoded.includes('/'));
        assert.equal(decodeModifiedUtf7(encoded), name);
      }),
    );
  });
});

describe('Maildir++ directory names', () => {
  it('puts INBOX at the root and other folders in dot directories', () => {
    assert.equal(maildirDirName(['INBOX']), '');
    assert.equal(maildirDirName(['inbox']), '');
    assert.equal(maildirDirName(['Inbox', 'Sub']), '.INBOX.Sub');
    assert.equal(maildirDirName(['Archive', '2024.Q1', 'a/b']), '.Archive.2024&AC4-Q1.a&AC8-b');
    assert.throws(() => maildirDirName([]));
    assert.throws(() => maildirDirName(['A', '']));
  });

  it('reads folder paths back', () => {
    assert.deepEqual(folderPathOfDirName('.Archive.2024&AC4-Q1.a&AC8-b'), [
      'Archive',
      '2024.Q1',
      'a/b',
    ]);
    assert.deepEqual(folderPathOfDirName('.&AMQ-rger.Sub'), ['Ärger', 'Sub']);
    // A tool that writes raw UTF-8 names: kept as they are.
    assert.deepEqual(folderPathOfDirName('.Ärger'), ['Ärger']);
  });

  it('round-trips any folder path', () => {
    const level = fc.string({ unit: 'binary', minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(fc.array(level, { minLength: 1, maxLength: 4 }), (path) => {
        fc.pre(path[0]!.toUpperCase() !== 'INBOX');
        const dirName = maildirDirName(path);
        assert.deepEqual(folderPathOfDirName(dirName), path);
      }),
    );
  });
});
