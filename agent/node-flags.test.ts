// Which of the agents' V8 flags a process was started without: by name, whatever value (an operator may tune one).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AGENT_MALLOC_TUNABLES, AGENT_NODE_FLAGS, agentEnvironment, missingAgentNodeFlags, missingMallocTunables } from './node-flags.js';

describe('missingAgentNodeFlags', () => {
  it('names each flag node was not given, and accepts any value and either spelling of one given', () => {
    assert.deepEqual(missingAgentNodeFlags([]), [...AGENT_NODE_FLAGS]);
    assert.deepEqual(missingAgentNodeFlags(['--import', 'tsx']), [...AGENT_NODE_FLAGS]);
    assert.deepEqual(missingAgentNodeFlags([...AGENT_NODE_FLAGS]), []);
    assert.deepEqual(missingAgentNodeFlags(['--initial-old-space-size=256', '--max-semi-space-size=4']), []);
    assert.deepEqual(missingAgentNodeFlags(['--initial_old_space_size=96', '--max_semi_space_size=16']), []);
    assert.deepEqual(missingAgentNodeFlags(['--initial-old-space-size=64']), ['--max-semi-space-size=8']);
  });
});

describe('missingMallocTunables and agentEnvironment', () => {
  it('names each allocator tunable GLIBC_TUNABLES lacks, and accepts any value an operator gave one', () => {
    assert.deepEqual(missingMallocTunables(undefined), [...AGENT_MALLOC_TUNABLES]);
    assert.deepEqual(missingMallocTunables('glibc.malloc.arena_max=2'), [...AGENT_MALLOC_TUNABLES]);
    assert.deepEqual(missingMallocTunables(AGENT_MALLOC_TUNABLES.join(':')), []);
    assert.deepEqual(missingMallocTunables('glibc.malloc.mmap_threshold=1048576'), [AGENT_MALLOC_TUNABLES[1]]);
  });

  it('adds the missing tunables to an environment, keeping the values it already sets', () => {
    assert.equal(agentEnvironment({})['GLIBC_TUNABLES'], AGENT_MALLOC_TUNABLES.join(':'));
    const env = agentEnvironment({ PATH: '/bin', GLIBC_TUNABLES: 'glibc.malloc.trim_threshold=1' });
    assert.equal(env['PATH'], '/bin');
    assert.equal(env['GLIBC_TUNABLES'], `glibc.malloc.trim_threshold=1:${AGENT_MALLOC_TUNABLES[0]}`);
    const complete = { GLIBC_TUNABLES: AGENT_MALLOC_TUNABLES.join(':') };
    assert.equal(agentEnvironment(complete), complete);
  });
});
