import { ApiError } from '../core/errors.js';
import { LIMITS } from '../core/limits.js';
import type { ShapeName, StringShape } from './generated/service.js';
import { SHAPES } from './generated/shapes.js';

/**
 * Checks a request body against the model's shapes and returns a copy that holds only the
 * members the model knows, with values converted (timestamps to `Date`).
 *
 * Readings of the model that AWS leaves open, applied to every shape alike:
 * - Patterns must match the whole value: each is compiled as `^(?:pattern)$`. Smithy's
 *   `pattern` trait is not implicitly anchored, and only some of WorkMail's patterns carry
 *   `^...$`; unanchored, `S3ObjectKey`'s `[A-Za-z0-9!_.*'()/-]+` would accept any key that
 *   holds one allowed character. AWS's own validator matches whole values.
 * - Lengths count Unicode code points, as Smithy's `length` trait defines; patterns run in
 *   Unicode mode for the same reason.
 * - A member of the wrong JSON type is a `SerializationException`, as AWS's JSON 1.1
 *   services answer: the type is checked while the body is read, before any constraint.
 *   Only the first such fault is reported.
 * - Constraint faults (missing required member, length, range, pattern, enum) are collected
 *   and answered together as one `InvalidParameterException` in AWS's wording:
 *   `N validation error(s) detected: Value 'x' at 'member' failed to satisfy constraint: ...`.
 *   Member paths are AWS's: lower camel case, list elements as `domains.1.member`.
 * - `null` is the same as an absent member. Members the model does not know are ignored,
 *   as AWS ignores them.
 * - Sensitive values (passwords, user attributes) are never quoted in messages.
 */

interface Violation {
  readonly path: string;
  readonly value: unknown;
  readonly sensitive: boolean;
  readonly constraint: string;
}

/** Thrown inside the walk to stop at the first type fault. */
function typeFault(path: string, expected: string): ApiError {
  const where = path === '' ? 'The request body' : `The value at '${path}'`;
  return new ApiError('SerializationException', `${where} must be ${expected}.`);
}

export function validateInput(shapeName: ShapeName, body: unknown): unknown {
  const violations: Violation[] = [];
  const value = check(shapeName, body, '', violations, false);
  if (violations.length > 0) {
    throw new ApiError('InvalidParameterException', formatViolations(violations));
  }
  return value;
}

function formatViolations(violations: readonly Violation[]): string {
  const count = violations.length;
  const parts = violations.map(
    (v) =>
      `Value ${quote(v.value, v.sensitive)}at '${v.path}' failed to satisfy constraint: ` +
      v.constraint,
  );
  return `${count} validation error${count === 1 ? '' : 's'} detected: ${parts.join('; ')}`;
}

function quote(value: unknown, sensitive: boolean): string {
  if (value === null || value === undefined) return 'null ';
  if (sensitive) return '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  const shown = Array.from(text.slice(0, LIMITS.apiValueQuotedChars * 2))
    .slice(0, LIMITS.apiValueQuotedChars)
    .join('');
  return `'${shown}${shown.length < text.length ? '...' : ''}' `;
}

function memberPath(parent: string, member: string): string {
  const name = member.charAt(0).toLowerCase() + member.slice(1);
  return parent === '' ? name : `${parent}.${name}`;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Code points in a string: Smithy's length of a string. */
export function codePointLength(value: string): number {
  let length = value.length;
  for (let i = 0; i < value.length; i++) {
    const unit = value.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = value.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        length--;
        i++;
      }
    }
  }
  return length;
}

const compiled = new Map<string, RegExp>();

/** The model's pattern as the validator applies it: anchored, Unicode mode. */
export function anchoredPattern(pattern: string): RegExp {
  let regex = compiled.get(pattern);
  if (!regex) {
    regex = new RegExp(`^(?:${pattern})$`, 'u');
    compiled.set(pattern, regex);
  }
  return regex;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

function check(
  shapeName: ShapeName,
  value: unknown,
  path: string,
  out: Violation[],
  sensitive: boolean,
): unknown {
  const shape = SHAPES[shapeName];
  switch (shape.type) {
    case 'string':
      if (typeof value !== 'string') throw typeFault(path, 'a string');
      checkString(shape, value, path, out);
      return value;

    case 'integer':
    case 'long': {
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        throw typeFault(path, 'a whole number');
      }
      const [low, high] =
        shape.type === 'integer'
          ? [INT32_MIN, INT32_MAX]
          : [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER];
      if (value < low || value > high)
        throw typeFault(path, `a whole number from ${low} to ${high}`);
      checkRange(shape, value, path, out);
      return value;
    }

    case 'double':
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw typeFault(path, 'a number');
      checkRange(shape, value, path, out);
      return value;

    case 'boolean':
      if (typeof value !== 'boolean') throw typeFault(path, 'true or false');
      return value;

    case 'timestamp':
      // JSON 1.1 sends timestamps as epoch seconds, fractions allowed.
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw typeFault(path, 'a number of seconds since 1970-01-01T00:00:00Z');
      }
      return new Date(value * 1000);

    case 'blob': {
      if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
        throw typeFault(path, 'a base64 string');
      }
      const bytes = Buffer.from(value, 'base64');
      checkLength(shape, bytes.length, value, path, out, sensitive);
      return bytes;
    }

    case 'list': {
      if (!Array.isArray(value)) throw typeFault(path, 'a JSON array');
      checkLength(shape, value.length, value, path, out, sensitive);
      return value.map((element, index) => {
        const elementPath = `${path}.${index + 1}.member`;
        if (element === null) {
          out.push({
            path: elementPath,
            value: null,
            sensitive,
            constraint: 'Member must not be null',
          });
          return null;
        }
        return check(shape.member, element, elementPath, out, sensitive);
      });
    }

    case 'map': {
      if (!isPlainObject(value)) throw typeFault(path, 'a JSON object');
      const entries = Object.entries(value);
      checkLength(shape, entries.length, value, path, out, sensitive);
      const result: Record<string, unknown> = Object.create(null);
      for (const [key, inner] of entries) {
        check(shape.key, key, `${path}.${key}.key`, out, sensitive);
        if (inner === null) continue;
        result[key] = check(shape.value, inner, `${path}.${key}.value`, out, sensitive);
      }
      return result;
    }

    case 'structure': {
      if (!isPlainObject(value)) throw typeFault(path, 'a JSON object');
      const result: Record<string, unknown> = {};
      for (const [member, memberShape] of Object.entries(shape.members)) {
        const inner = Object.hasOwn(value, member) ? value[member] : undefined;
        const innerPath = memberPath(path, member);
        const innerSensitive = sensitive || isSensitive(memberShape);
        if (inner === undefined || inner === null) {
          if (shape.required.includes(member)) {
            out.push({
              path: innerPath,
              value: null,
              sensitive: innerSensitive,
              constraint: 'Member must not be null',
            });
          }
          continue;
        }
        result[member] = check(memberShape, inner, innerPath, out, innerSensitive);
      }
      return result;
    }
  }
}

function isSensitive(shapeName: ShapeName): boolean {
  const shape = SHAPES[shapeName];
  return shape.type === 'string' && shape.sensitive === true;
}

function checkString(shape: StringShape, value: string, path: string, out: Violation[]): void {
  const sensitive = shape.sensitive === true;
  const length = codePointLength(value);
  const lengthOk = checkLength(shape, length, value, path, out, sensitive);

  // A value past its maximum length is not matched: it is already refused, and the bound
  // keeps every pattern's running time small whatever the pattern.
  if (shape.pattern !== undefined && lengthOk && !anchoredPattern(shape.pattern).test(value)) {
    out.push({
      path,
      value,
      sensitive,
      constraint: `Member must satisfy regular expression pattern: ${shape.pattern}`,
    });
  }

  if (shape.enum !== undefined && !shape.enum.includes(value)) {
    out.push({
      path,
      value,
      sensitive,
      constraint: `Member must satisfy enum value set: [${shape.enum.join(', ')}]`,
    });
  }
}

/** Records a length fault; true when the length is within the shape's bounds. */
function checkLength(
  shape: { readonly min?: number; readonly max?: number },
  length: number,
  value: unknown,
  path: string,
  out: Violation[],
  sensitive: boolean,
): boolean {
  if (shape.min !== undefined && length < shape.min) {
    out.push({
      path,
      value,
      sensitive,
      constraint: `Member must have length greater than or equal to ${shape.min}`,
    });
    return false;
  }
  if (shape.max !== undefined && length > shape.max) {
    out.push({
      path,
      value,
      sensitive,
      constraint: `Member must have length less than or equal to ${shape.max}`,
    });
    return false;
  }
  return true;
}

function checkRange(
  shape: { readonly min?: number; readonly max?: number },
  value: number,
  path: string,
  out: Violation[],
): void {
  if (shape.min !== undefined && value < shape.min) {
    out.push({
      path,
      value: String(value),
      sensitive: false,
      constraint: `Member must have value greater than or equal to ${shape.min}`,
    });
  }
  if (shape.max !== undefined && value > shape.max) {
    out.push({
      path,
      value: String(value),
      sensitive: false,
      constraint: `Member must have value less than or equal to ${shape.max}`,
    });
  }
}
