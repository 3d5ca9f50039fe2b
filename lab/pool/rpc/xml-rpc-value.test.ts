import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeXmlRpcValue } from './xml-rpc-value.js';

describe('encodeXmlRpcValue', () => {
  it('encodes what task results carry', () => {
    assert.equal(encodeXmlRpcValue(undefined), '');
    assert.equal(encodeXmlRpcValue('OpaqueRef:1'), '<value>OpaqueRef:1</value>');
    assert.equal(encodeXmlRpcValue('a<b&c'), '<value>a&lt;b&amp;c</value>');
    assert.equal(encodeXmlRpcValue(['x', 2]), '<value><array><data><value>x</value><value><int>2</int></value></data></array></value>');
    assert.equal(encodeXmlRpcValue({ k: true }), '<value><struct><member><name>k</name><value><boolean>1</boolean></value></member></struct></value>');
  });
});
