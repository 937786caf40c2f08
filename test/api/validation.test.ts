import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { OPERATIONS } from '../../src/api/generated/operations.js';
import type { ShapeName } from '../../src/api/generated/service.js';
import { SHAPES } from '../../src/api/generated/shapes.js';
import { anchoredPattern } from '../../src/api/validate.js';
import { call, startTestApi, type TestApi } from './helpers.js';
import { SAMPLES, inputShapes, isWaiver, type ShapeSamples } from './validation-table.js';

/** A place in a request where a value of one shape goes. */
interface Slot {
  /** Keys and indexes from the body's root. */
  readonly at: readonly (string | number)[];
  /** The member path as AWS writes it in messages: `domains.1.member.domainName`. */
  readonly wire: string;
  readonly shape: ShapeName;
  readonly required: boolean;
}

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function slotsOf(shapeName: ShapeName, at: (string | number)[] = [], wire = ''): Slot[] {
  const shape = SHAPES[shapeName];
  const slots: Slot[] = [];
  if (shape.type === 'structure') {
    for (const [member, memberShape] of Object.entries(shape.members)) {
      const memberWire = wire === '' ? lowerFirst(member) : `${wire}.${lowerFirst(member)}`;
      const memberAt = [...at, member];
      slots.push({
        at: memberAt,
        wire: memberWire,
        shape: memberShape,
        required: shape.required.includes(member),
      });
      slots.push(...slotsOf(memberShape, memberAt, memberWire));
    }
  } else if (shape.type === 'list') {
    slots.push(...slotsOf(shape.member, [...at, 0], `${wire}.1.member`));
  }
  return slots;
}

function samplesOf(shape: ShapeName): ShapeSamples {
  const samples = SAMPLES[shape];
  if (!samples) throw new Error(`no samples for shape ${shape}`);
  return samples;
}

/** A request with every member present and valid, nested ones included. */
function validValue(shapeName: ShapeName): unknown {
  const shape = SHAPES[shapeName];
  if (shape.type === 'structure') {
    return Object.fromEntries(
      Object.entries(shape.members).map(([member, inner]) => [member, validValue(inner)]),
    );
  }
  if (shape.type === 'list') return [validValue(shape.member)];
  return samplesOf(shapeName).valid;
}

function withValue(base: unknown, at: readonly (string | number)[], value: unknown): unknown {
  const copy = structuredClone(base) as Record<string | number, unknown>;
  let node = copy;
  for (const key of at.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = at.at(-1)!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

const CONSTRAINT_TEXT: Record<string, string> = {
  tooLong: 'Member must have length less than or equal to',
  tooShort: 'Member must have length greater than or equal to',
  badPattern: 'Member must satisfy regular expression pattern',
  badEnum: 'Member must satisfy enum value set',
  tooHigh: 'Member must have value less than or equal to',
  tooLow: 'Member must have value greater than or equal to',
};

let server: TestApi;
before(async () => {
  server = await startTestApi();
});
after(async () => {
  await server.close();
});

describe('every member of every operation is checked against the model', () => {
  for (const [operation, spec] of Object.entries(OPERATIONS)) {
    it(`${operation}: missing, too long, too short, bad pattern, bad enum, out of range, wrong type`, async () => {
      const base = validValue(spec.input);
      const failures: string[] = [];
      let cases = 0;

      const baseAnswer = await call(server.url, operation, base);
      if (/validation error|SerializationException/.test(baseAnswer.text)) {
        failures.push(`the all-valid request was refused: ${baseAnswer.text}`);
      }

      for (const slot of slotsOf(spec.input)) {
        const samples = samplesOf(slot.shape);
        const sensitive = SHAPES[slot.shape].type === 'string' && 'sensitive' in SHAPES[slot.shape];

        if (slot.required) {
          cases++;
          const answer = await call(server.url, operation, withValue(base, slot.at, undefined));
          const expected = `Value null at '${slot.wire}' failed to satisfy constraint: Member must not be null`;
          if (
            answer.status !== 400 ||
            answer.json?.__type !== 'InvalidParameterException' ||
            !String(answer.json.Message).includes(expected)
          ) {
            failures.push(`${slot.wire} left out: ${answer.status} ${answer.text}`);
          }
        }

        cases++;
        const wrong = await call(
          server.url,
          operation,
          withValue(base, slot.at, samples.wrongType),
        );
        if (
          wrong.status !== 400 ||
          wrong.json?.__type !== 'SerializationException' ||
          !String(wrong.json.Message).includes(`'${slot.wire}'`)
        ) {
          failures.push(`${slot.wire} of the wrong type: ${wrong.status} ${wrong.text}`);
        }

        for (const [kind, text] of Object.entries(CONSTRAINT_TEXT)) {
          const bad = samples[kind as keyof ShapeSamples];
          if (bad === undefined || isWaiver(bad)) continue;
          cases++;
          const answer = await call(server.url, operation, withValue(base, slot.at, bad));
          const message = String(answer.json?.Message);
          const right =
            answer.status === 400 &&
            answer.json?.__type === 'InvalidParameterException' &&
            message.startsWith('1 validation error detected: ') &&
            message.includes(`at '${slot.wire}' failed to satisfy constraint: ${text}`) &&
            (!sensitive || typeof bad !== 'string' || !message.includes(bad));
          if (!right)
            failures.push(`${slot.wire} ${kind}: ${answer.status} ${answer.text.slice(0, 300)}`);
        }
      }

      assert.deepEqual(failures, []);
      assert.ok(cases >= slotsOf(spec.input).length, `${cases} cases`);
    });
  }
});

describe('the sample table covers the model', () => {
  it('has samples for every shape a request can hold, for each of its constraints', () => {
    const missing: string[] = [];
    for (const name of inputShapes()) {
      const shape = SHAPES[name];
      const samples = SAMPLES[name];
      if (!samples) {
        missing.push(`${name}: no samples`);
        continue;
      }
      const need = (kind: keyof ShapeSamples, when: boolean) => {
        if (when && samples[kind] === undefined) missing.push(`${name}: no ${kind}`);
      };
      if (
        shape.type === 'string' ||
        shape.type === 'list' ||
        shape.type === 'map' ||
        shape.type === 'blob'
      ) {
        need('tooLong', shape.max !== undefined);
        need('tooShort', (shape.min ?? 0) > 0);
      }
      if (shape.type === 'string') {
        need('badPattern', shape.pattern !== undefined);
        need('badEnum', shape.enum !== undefined);
      }
      if (
        shape.type === 'integer' ||
        shape.type === 'long' ||
        shape.type === 'double' ||
        shape.type === 'float'
      ) {
        need('tooHigh', shape.max !== undefined);
        need('tooLow', shape.min !== undefined);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('waives a pattern only where the pattern accepts every string', () => {
    const hard = ['', ' ', '\n', '\u0000', 'ü', '😀', 'a b\tc', '../..', '"\'\\'];
    for (const [name, samples] of Object.entries(SAMPLES)) {
      if (!isWaiver(samples.badPattern)) continue;
      const shape = SHAPES[name as ShapeName];
      assert.equal(shape.type, 'string');
      const pattern = shape.type === 'string' ? shape.pattern : undefined;
      assert.ok(pattern, `${name} has no pattern to waive`);
      for (const value of hard)
        assert.ok(anchoredPattern(pattern).test(value), `${name}: ${JSON.stringify(value)}`);
    }
  });

  it('has no samples for shapes that no request holds', () => {
    const used = inputShapes();
    assert.deepEqual(
      Object.keys(SAMPLES).filter((name) => !used.has(name as ShapeName)),
      [],
    );
  });
});
