// Which of the agents' V8 flags a process was started without: by name, whatever value (an operator may tune one).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AGENT_NODE_FLAGS, missingAgentNodeFlags } from './node-flags.js';

describe('missingAgentNodeFlags', () => {
  it('names each flag node was not given, and accepts any value and either spelling of one given', () => {
    assert.deepEqual(missingAgentNodeFlags([]), [...AGENT_NODE_FLAGS]);
    assert.deepEqual(missingAgentNodeFlags(['--import', 'tsx']), [...AGENT_NODE_FLAGS]);
    assert.deepEqual(missingAgentNodeFlags([...AGENT_NODE_FLAGS]), []);
    assert.deepEqual(missingAgentNodeFlags(['--initial-old-space-size=256']), []);
    assert.deepEqual(missingAgentNodeFlags(['--initial_old_space_size=96']), []);
  });
});
