/** The README's statechart diagrams are generated from the machines and must match them. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  README,
  README_STATECHARTS,
  readmeBlock,
  statechartBlock,
  UPDATE_COMMAND,
  updateStatecharts,
} from '../../scripts/update-readme-statecharts.js';

const readme = readFileSync(README, 'utf8');

describe('README statecharts', () => {
  it.each(Object.keys(README_STATECHARTS))('shows the current %s machine', (name) => {
    const shown = readmeBlock(readme, name);
    expect(shown, `README.md has no statechart:${name} markers; add them under "## Statecharts"`).toBeDefined();
    expect(shown, `README.md's ${name} statechart differs from the machine: run ${UPDATE_COMMAND}`).toBe(
      statechartBlock(README_STATECHARTS[name]!),
    );
  });

  it('is what the update script would write (nothing else between the markers)', () => {
    expect(updateStatecharts(readme) === readme, `README.md statecharts are out of date: run ${UPDATE_COMMAND}`).toBe(true);
  });

  it('tells how to print any machine', () => {
    const section = readme.slice(readme.indexOf('## Statecharts'), readme.indexOf('## Architecture'));
    expect(section).toContain('npm run cli -- inspect --machine');
    expect(section).toContain('```mermaid\nstateDiagram-v2');
  });
});
