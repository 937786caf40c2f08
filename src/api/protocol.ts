import { API_ERRORS, ApiError, type ApiErrorCode } from '../core/errors.js';
import { OPERATIONS, type OperationName } from './generated/operations.js';
import { SERVICE, type ShapeName } from './generated/service.js';
import { SHAPES } from './generated/shapes.js';

/**
 * The AWS JSON 1.1 protocol as WorkMail speaks it: which operation a request names, which
 * bodies it accepts, and how answers and errors are written. It knows nothing of operations'
 * behaviour. (AWS: "AWS JSON 1.1 protocol", Smithy `awsJson1_1`.)
 */

export const JSON_CONTENT_TYPE = `application/x-amz-json-${SERVICE.jsonVersion}`;

/**
 * Media types accepted on requests. The AWS CLI v1 and v2 and the JS SDK v3 all send
 * `application/x-amz-json-1.1`; plain `application/json` is what hand-written clients send.
 */
const ACCEPTED_CONTENT_TYPES = new Set([JSON_CONTENT_TYPE, 'application/json']);

export function operationFromTarget(target: string | string[] | undefined): OperationName {
  const value = Array.isArray(target) ? target[0] : target;
  const prefix = `${SERVICE.targetPrefix}.`;
  if (value === undefined || value === '') {
    throw new ApiError(
      'UnknownOperationException',
      `The X-Amz-Target header is missing; send ${prefix}<Operation>.`,
    );
  }

  const name = value.startsWith(prefix) ? value.slice(prefix.length) : undefined;
  if (name === undefined || !Object.hasOwn(OPERATIONS, name)) {
    throw new ApiError(
      'UnknownOperationException',
      `X-Amz-Target ${JSON.stringify(value.slice(0, 100))} names no operation of this service.`,
    );
  }
  return name as OperationName;
}

export function checkContentType(header: string | undefined): void {
  const mediaType = header?.split(';')[0]?.trim().toLowerCase();
  if (mediaType === undefined || !ACCEPTED_CONTENT_TYPES.has(mediaType)) {
    throw new ApiError(
      'UnsupportedMediaTypeException',
      `Content-Type must be ${JSON_CONTENT_TYPE}` +
        (header === undefined ? '; the request has none.' : `, not ${JSON.stringify(header)}.`),
    );
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The request body as a JSON value. An empty body stands for `{}`: operations without
 * required members may be called without one.
 */
export function parseJsonBody(body: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch (cause) {
    throw new ApiError('SerializationException', 'The request body is not valid UTF-8.', {
      cause,
    });
  }

  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new ApiError('SerializationException', 'The request body is not valid JSON.', {
      cause,
    });
  }
}

/**
 * The wire form of an operation's output: only the members the output shape lists (so a list
 * item never carries more than the model's member list), timestamps as epoch seconds (JSON
 * 1.1; the JS SDK refuses ISO strings), absent members left out.
 */
export function serializeOutput(shapeName: ShapeName, value: unknown): unknown {
  const shape = SHAPES[shapeName];
  switch (shape.type) {
    case 'structure': {
      const result: Record<string, unknown> = {};
      if (typeof value !== 'object' || value === null) return result;
      for (const [member, memberShape] of Object.entries(shape.members)) {
        const inner = (value as Record<string, unknown>)[member];
        if (inner === undefined || inner === null) continue;
        result[member] = serializeOutput(memberShape, inner);
      }
      return result;
    }

    case 'list':
      return Array.isArray(value) ? value.map((item) => serializeOutput(shape.member, item)) : [];

    case 'map': {
      const result: Record<string, unknown> = {};
      if (typeof value !== 'object' || value === null) return result;
      for (const [key, inner] of Object.entries(value)) {
        result[key] = serializeOutput(shape.value, inner);
      }
      return result;
    }

    case 'timestamp':
      return value instanceof Date ? value.getTime() / 1000 : value;

    case 'blob':
      return value instanceof Uint8Array ? Buffer.from(value).toString('base64') : value;

    default:
      return value;
  }
}

export interface WireAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export function successAnswer(operation: OperationName, output: unknown): WireAnswer {
  const body = JSON.stringify(serializeOutput(OPERATIONS[operation].output, output));
  return { status: 200, headers: { 'content-type': JSON_CONTENT_TYPE }, body };
}

/**
 * An error in the form both CLIs and the SDKs read: `__type` in the body (the CLI ignores
 * the `x-amzn-ErrorType` header, the SDK reads either) and `Message`.
 */
export function errorAnswer(code: ApiErrorCode, message: string): WireAnswer {
  return {
    status: API_ERRORS[code].status,
    headers: { 'content-type': JSON_CONTENT_TYPE, 'x-amzn-errortype': code },
    body: JSON.stringify({ __type: code, Message: message }),
  };
}
