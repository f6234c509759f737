import { describe, expect, it } from 'vitest';
import { MAX_DEPTH, parseJsonText, scanJson } from '../../src/config/json-text.js';
import { ConfigError } from '../../src/config/errors.js';

function refusal(text: string): ConfigError {
  try {
    parseJsonText(text, 'c.json');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('parsed');
}

/** `{"a":[[...[1]...]]}` with `levels` containers in all. */
const nested = (levels: number) => `{"a":${'['.repeat(levels - 1)}1${']'.repeat(levels - 1)}}`;

describe('nesting depth', () => {
  it(`accepts ${MAX_DEPTH} levels and refuses one more, naming where`, () => {
    expect(parseJsonText(nested(MAX_DEPTH), 'c.json')).toBeDefined();
    expect(refusal(nested(MAX_DEPTH + 1)).message).toBe(
      `c.json: nested deeper than ${MAX_DEPTH} levels at line 1, column ${6 + MAX_DEPTH - 1} (in a[0][0][0]...); a config needs at most 6`,
    );
  });

  it('refuses a file nested 200,000 levels deep without overflowing the stack', () => {
    const deep = `{\n  "models": [],\n  "description": ${'['.repeat(200_000)}${']'.repeat(200_000)}\n}\n`;
    expect(refusal(deep).message).toMatch(/^c\.json: nested deeper than 32 levels at line 3, column \d+ \(in description\[0\]\[0\]\[0\]\.\.\.\)/);
    const objects = `${'{"x":'.repeat(200_000)}1${'}'.repeat(200_000)}`;
    expect(refusal(objects).message).toMatch(/ \(in x\.x\.x\.x\.\.\.\); a config needs at most 6$/);
  });
});

describe('duplicate keys', () => {
  it('refuses every repeated key, with its path and both lines', () => {
    const text = [
      '{',
      '  "mode": "backtest",',
      '  "models": [',
      '    { "name": "a", "signature": "a", "agent": { "kind": "rules" } },',
      '    { "name": "b", "signature": "b",',
      '      "name": "c", "agent": { "kind": "rules" } }',
      '  ],',
      '  "risk_control": { "stop_loss_ratio": 0.08 },',
      '  "mode": "live"',
      '}',
    ].join('\n');
    const err = refusal(text);
    expect(err.message).toBe('invalid config c.json: 2 duplicate keys');
    expect(err.problems).toEqual([
      'models[1].name: duplicate key (lines 5 and 6); JSON keeps only the last one silently, so write it once',
      'mode: duplicate key (lines 2 and 9); JSON keeps only the last one silently, so write it once',
    ]);
  });

  it('compares keys as JSON reads them: an escaped spelling is the same key', () => {
    expect(scanJson('{"mode": 1,\n"\\u006dode": 2}').duplicates).toEqual([{ path: ['mode'], firstLine: 1, line: 2 }]);
  });

  it('allows the same key in different objects', () => {
    expect(scanJson('{"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 1}, {"x": 2}]}')).toEqual({ duplicates: [] });
    expect(parseJsonText('{"a": {"x": 1}, "b": {"x": 2}}', 'c.json')).toEqual({ a: { x: 1 }, b: { x: 2 } });
  });

  it('a syntax error is reported first, with the wording of the syntax checks', () => {
    expect(refusal('{"a": 1, "a": 2,}').message).toBe('c.json: not valid JSON at line 1, column 17: trailing comma before }');
  });
});
