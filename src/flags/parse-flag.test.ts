import { describe, expect, it } from 'vitest';
import { isCutoverError } from '../errors/index.js';
import { parseFlag, type FlagIssue } from './index.js';

function issuesOf(input: unknown, options?: Parameters<typeof parseFlag>[1]): FlagIssue[] {
  try {
    parseFlag(input, options);
  } catch (error) {
    if (isCutoverError(error) && error.code === 'FLAG_INVALID') {
      expect(error.category).toBe('config');
      return (error.details as { issues: FlagIssue[] }).issues;
    }
    throw error;
  }
  throw new Error('expected FLAG_INVALID');
}

const valid = {
  key: 'new-dashboard',
  description: 'The v2 dashboard',
  owner: 'team-web',
  tags: { category: 'migration' },
  type: 'release',
  environments: {
    production: {
      enabled: true,
      strategies: [
        {
          name: 'flexibleRollout',
          parameters: { rollout: 5, stickiness: 'userId' },
          constraints: [
            { contextName: 'country', operator: 'IN', values: ['NO', 'SE'] },
            { contextName: 'appVersion', operator: 'SEMVER_GTE', value: '2.0.0' },
          ],
          segments: [1],
        },
      ],
      variants: [
        {
          name: 'blue',
          weight: 0,
          weightType: 'variable',
          payload: { type: 'json', value: '{"a":1}' },
        },
        { name: 'red', weight: 200, weightType: 'fix' },
      ],
    },
    staging: { enabled: true, strategies: [{ name: 'default' }] },
  },
};

describe('parseFlag', () => {
  it('accepts a complete flag definition and returns it typed', () => {
    const flag = parseFlag(valid);
    expect(flag.key).toBe('new-dashboard');
    expect(flag.environments.production?.strategies[0]?.parameters?.rollout).toBe(5);
    expect(flag.environments.staging?.strategies).toEqual([{ name: 'default' }]);
  });

  it('defaults strategies to an empty list', () => {
    const flag = parseFlag({ key: 'a', environments: { dev: { enabled: false } } });
    expect(flag.environments.dev?.strategies).toEqual([]);
  });

  it('reports every problem with its JSON path', () => {
    const issues = issuesOf({
      key: 'bad key!',
      color: 'blue',
      environments: {
        production: {
          enabled: 'yes',
          strategies: [
            { name: 'flexibleRollout', parameters: { rollout: '150' } },
            {
              name: 'nope',
              constraints: [
                { contextName: 'x', operator: 'REGEX', value: '(?=a)b' },
                { contextName: 'x', operator: 'LIKE', values: ['a'] },
                { contextName: 'x', operator: 'IN' },
                { contextName: 'ip', operator: 'IN_CIDR', values: ['10.0.0.0/8', '300.1.1.1'] },
                { contextName: 'v', operator: 'SEMVER_EQ', value: 'one' },
                { contextName: 'n', operator: 'NUM_GT', value: 'ten' },
                { contextName: 'd', operator: 'DATE_AFTER', value: 'tomorrow' },
              ],
            },
          ],
          variants: [
            { name: 'a', weight: 600, weightType: 'fix' },
            { name: 'a', weight: 600, weightType: 'fix', stickiness: 'userId' },
          ],
        },
      },
    });
    const paths = issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        '$.key',
        '$.color',
        '$.environments.production.enabled',
        '$.environments.production.strategies[0].parameters.rollout',
        '$.environments.production.strategies[1].name',
        '$.environments.production.strategies[1].constraints[0].value',
        '$.environments.production.strategies[1].constraints[1].operator',
        '$.environments.production.strategies[1].constraints[2].values',
        '$.environments.production.strategies[1].constraints[3].values[1]',
        '$.environments.production.strategies[1].constraints[4].value',
        '$.environments.production.strategies[1].constraints[5].value',
        '$.environments.production.strategies[1].constraints[6].value',
        '$.environments.production.variants[1].name',
        '$.environments.production.variants[1].stickiness',
        '$.environments.production.variants',
      ]),
    );
    for (const issue of issues) expect(issue.message.length).toBeGreaterThan(0);
  });

  it('rejects references to unknown segments when the segment ids are given', () => {
    const issues = issuesOf(valid, { segmentIds: [2, 3] });
    expect(issues).toEqual([
      {
        path: '$.environments.production.strategies[0].segments[0]',
        message: 'segment 1 does not exist',
      },
    ]);
  });

  it('rejects a flag that depends on itself', () => {
    const issues = issuesOf({
      key: 'a',
      dependencies: [{ feature: 'a' }],
      environments: {},
    });
    expect(issues.map((i) => i.path)).toEqual(['$.dependencies[0].feature']);
  });

  it('rejects input that is not an object, with the root path', () => {
    expect(issuesOf('nope')[0]?.path).toBe('$');
  });

  it('puts the first path in the error location and a hint', () => {
    try {
      parseFlag({
        key: 'ok',
        environments: { prod: { enabled: true, strategies: [{ name: 'x' }] } },
      });
      expect.unreachable();
    } catch (error) {
      expect(isCutoverError(error)).toBe(true);
      if (!isCutoverError(error)) return;
      expect(error.location).toBe('$.environments.prod.strategies[0].name');
      expect(error.hint).toBeTruthy();
      expect(error.message).toContain('$.environments.prod.strategies[0].name');
    }
  });
});
