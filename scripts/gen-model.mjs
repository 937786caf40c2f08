#!/usr/bin/env node
// Turns the service model in model/*.json into src/api/generated/: the service and the kinds of
// shapes (service.ts), a frozen table of every shape (shapes.ts) and of every operation
// (operations.ts) that the validator and the serializer read, and one TypeScript interface per
// structure (types.ts). `--check` compares instead of writing (exit 1 when out of date); `--out
// DIR` writes or checks another folder.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const modelDir = join(root, 'model');
const defaultOut = join(root, 'src/api/generated');

const SIMPLE_TYPES = new Set([
  'string',
  'integer',
  'long',
  'double',
  'float',
  'boolean',
  'timestamp',
  'blob',
]);

function loadModels() {
  const files = readdirSync(modelDir)
    .filter((name) => name.endsWith('.json'))
    .sort();
  if (files.length === 0) throw new Error(`no model in ${modelDir}`);
  return files.map((name) => ({
    name,
    model: JSON.parse(readFileSync(join(modelDir, name), 'utf8')),
  }));
}

/** The table entry of one shape: only what validation and serialization need. */
function shapeSpec(name, shape) {
  const spec = { type: shape.type };
  switch (shape.type) {
    case 'string':
      if (shape.min !== undefined) spec.min = shape.min;
      if (shape.max !== undefined) spec.max = shape.max;
      if (shape.pattern !== undefined) {
        // Fail here rather than at the first request: every pattern must compile as the
        // validator compiles it (anchored, Unicode mode).
        new RegExp(`^(?:${shape.pattern})$`, 'u');
        spec.pattern = shape.pattern;
      }
      if (shape.enum !== undefined) spec.enum = [...shape.enum];
      if (shape.sensitive) spec.sensitive = true;
      return spec;
    case 'integer':
    case 'long':
    case 'double':
    case 'float':
    case 'blob':
      if (shape.min !== undefined) spec.min = shape.min;
      if (shape.max !== undefined) spec.max = shape.max;
      return spec;
    case 'boolean':
    case 'timestamp':
      return spec;
    case 'list':
      spec.member = shape.member.shape;
      if (shape.min !== undefined) spec.min = shape.min;
      if (shape.max !== undefined) spec.max = shape.max;
      return spec;
    case 'map':
      spec.key = shape.key.shape;
      spec.value = shape.value.shape;
      if (shape.min !== undefined) spec.min = shape.min;
      if (shape.max !== undefined) spec.max = shape.max;
      return spec;
    case 'structure':
      spec.members = Object.fromEntries(
        Object.entries(shape.members ?? {}).map(([member, ref]) => [member, ref.shape]),
      );
      spec.required = [...(shape.required ?? [])];
      if (shape.exception) spec.exception = true;
      return spec;
    default:
      throw new Error(`shape ${name}: type ${shape.type} is not supported`);
  }
}

/** The TypeScript type of a value of the shape, as handlers see it. */
function tsType(shapes, name) {
  const shape = shapes[name];
  if (!shape) throw new Error(`shape ${name} is referenced but not defined`);
  switch (shape.type) {
    case 'string':
      return shape.enum ? name : 'string';
    case 'integer':
    case 'long':
    case 'double':
    case 'float':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'timestamp':
      return 'Date';
    case 'blob':
      return 'Uint8Array';
    case 'list':
      return `readonly ${tsType(shapes, shape.member.shape)}[]`;
    case 'map':
      return `Readonly<Record<string, ${tsType(shapes, shape.value.shape)}>>`;
    case 'structure':
      return name;
    default:
      throw new Error(`shape ${name}: type ${shape.type} is not supported`);
  }
}

function generate(sources) {
  const shapes = {};
  const operations = {};
  let service;
  for (const { name, model } of sources) {
    for (const [shapeName, shape] of Object.entries(model.shapes)) {
      if (shapes[shapeName]) throw new Error(`${name}: shape ${shapeName} defined twice`);
      if (!SIMPLE_TYPES.has(shape.type) && !['list', 'map', 'structure'].includes(shape.type)) {
        throw new Error(`${name}: shape ${shapeName} has unknown type ${shape.type}`);
      }
      shapes[shapeName] = shape;
    }
    Object.assign(operations, model.operations);
    service ??= {
      apiVersion: model.metadata.apiVersion,
      jsonVersion: model.metadata.jsonVersion,
      targetPrefix: model.metadata.targetPrefix,
      signingName: model.metadata.signingName ?? model.metadata.endpointPrefix,
    };
  }

  const shapeNames = Object.keys(shapes).sort();
  const opNames = Object.keys(operations).sort();
  const table = Object.fromEntries(shapeNames.map((n) => [n, shapeSpec(n, shapes[n])]));
  const opTable = Object.fromEntries(
    opNames.map((n) => {
      const op = operations[n];
      return [
        n,
        {
          input: op.input.shape,
          output: op.output.shape,
          errors: (op.errors ?? []).map((e) => e.shape),
        },
      ];
    }),
  );

  const banner = [
    '/*',
    ` * GENERATED by scripts/gen-model.mjs from ${sources.map((s) => `model/${s.name}`).join(', ')}.`,
    ' * Do not edit: change the model or the generator and run `npm run gen`. A test fails when',
    ' * this file is out of date.',
    ' */',
    '',
  ];
  const serviceFile = [...banner];
  serviceFile.push(
    'export const SERVICE = Object.freeze(' + JSON.stringify(service) + ' as const);',
    '',
    'interface Bounds {',
    '  readonly min?: number;',
    '  readonly max?: number;',
    '}',
    '',
    'export interface StringShape extends Bounds {',
    "  readonly type: 'string';",
    '  /** As written in the model; the validator anchors it (see validate.ts). */',
    '  readonly pattern?: string;',
    '  readonly enum?: readonly string[];',
    '  /** Never echoed in error messages or logs. */',
    '  readonly sensitive?: true;',
    '}',
    'export interface NumberShape extends Bounds {',
    "  readonly type: 'integer' | 'long' | 'double' | 'float';",
    '}',
    'export interface BlobShape extends Bounds {',
    "  readonly type: 'blob';",
    '}',
    'export interface BooleanShape {',
    "  readonly type: 'boolean';",
    '}',
    'export interface TimestampShape {',
    "  readonly type: 'timestamp';",
    '}',
    'export interface ListShape extends Bounds {',
    "  readonly type: 'list';",
    '  readonly member: ShapeName;',
    '}',
    'export interface MapShape extends Bounds {',
    "  readonly type: 'map';",
    '  readonly key: ShapeName;',
    '  readonly value: ShapeName;',
    '}',
    'export interface StructureShape {',
    "  readonly type: 'structure';",
    "  /** Member name to shape name, in the model's order. */",
    '  readonly members: Readonly<Record<string, ShapeName>>;',
    '  readonly required: readonly string[];',
    '  readonly exception?: true;',
    '}',
    'export type ShapeSpec =',
    '  | StringShape',
    '  | NumberShape',
    '  | BlobShape',
    '  | BooleanShape',
    '  | TimestampShape',
    '  | ListShape',
    '  | MapShape',
    '  | StructureShape;',
    '',
    'export interface OperationSpec {',
    '  readonly input: ShapeName;',
    '  readonly output: ShapeName;',
    '  /** The error shapes the model lists for the operation. */',
    '  readonly errors: readonly ShapeName[];',
    '}',
    '',
    `export type ShapeName =\n${shapeNames.map((n) => `  | '${n}'`).join('\n')};`,
    '',
    'export function deepFreeze<T>(value: T): T {',
    "  if (value !== null && typeof value === 'object') {",
    '    for (const inner of Object.values(value)) deepFreeze(inner);',
    '    Object.freeze(value);',
    '  }',
    '  return value;',
    '}',
    '',
  );

  const shapeTable = [
    ...banner,
    "import { deepFreeze, type ShapeName, type ShapeSpec } from './service.js';",
    '',
    `export const SHAPES: Readonly<Record<ShapeName, ShapeSpec>> = deepFreeze(${JSON.stringify(table)});`,
    '',
  ];

  const operationTable = [
    ...banner,
    "import { deepFreeze, type OperationSpec } from './service.js';",
    '',
    `export const OPERATIONS = deepFreeze(${JSON.stringify(opTable)} as const) satisfies Readonly<Record<string, OperationSpec>>;`,
    '',
    'export type OperationName = keyof typeof OPERATIONS;',
    '',
  ];

  const out = [...banner];

  for (const n of shapeNames) {
    const shape = shapes[n];
    if (shape.type === 'string' && shape.enum) {
      out.push(`export type ${n} = ${shape.enum.map((v) => `'${v}'`).join(' | ')};`, '');
    }
  }

  for (const n of shapeNames) {
    const shape = shapes[n];
    if (shape.type !== 'structure' || shape.exception) continue;
    const required = new Set(shape.required ?? []);
    const members = Object.entries(shape.members ?? {}).map(
      ([member, ref]) =>
        `  readonly ${member}${required.has(member) ? '' : '?'}: ${tsType(shapes, ref.shape)};`,
    );
    out.push(
      members.length
        ? `export interface ${n} {\n${members.join('\n')}\n}`
        : `export type ${n} = Record<string, never>;`,
      '',
    );
  }

  const ioMap = (side) =>
    opNames.map((n) => `  readonly ${n}: ${tsType(shapes, operations[n][side].shape)};`).join('\n');
  out.push(
    '/** The validated input of each operation. */',
    `export interface OperationInputs {\n${ioMap('input')}\n}`,
    '',
    "/** What each operation's handler returns; the serializer keeps only these members. */",
    `export interface OperationOutputs {\n${ioMap('output')}\n}`,
    '',
  );
  return {
    'service.ts': serviceFile.join('\n'),
    'shapes.ts': shapeTable.join('\n'),
    'operations.ts': operationTable.join('\n'),
    'types.ts': out.join('\n'),
  };
}

async function main(argv) {
  const check = argv.includes('--check');
  const outIndex = argv.indexOf('--out');
  const outDir = outIndex >= 0 ? argv[outIndex + 1] : defaultOut;
  if (!outDir) throw new Error('--out needs a folder');

  const options = (await prettier.resolveConfig(join(defaultOut, 'shapes.ts'))) ?? {};
  const files = generate(loadModels());
  let stale = false;
  for (const [name, source] of Object.entries(files)) {
    const outPath = join(outDir, name);
    const text = await prettier.format(source, { ...options, parser: 'typescript' });
    if (!check) {
      writeFileSync(outPath, text);
      continue;
    }
    let current = '';
    try {
      current = readFileSync(outPath, 'utf8');
    } catch {
      // A missing file is out of date like any other.
    }
    if (current !== text) {
      process.stderr.write(
        `${relative(root, outPath)} is out of date with model/: run npm run gen\n`,
      );
      stale = true;
    }
  }
  if (stale) process.exit(1);
}

await main(process.argv.slice(2));
