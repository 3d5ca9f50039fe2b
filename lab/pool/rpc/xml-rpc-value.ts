// Encodes a method's result as the XML-RPC value a task's `result` field carries — XAPI does this
// even for JSON-RPC clients, and the xen-api client parses it (`<value>OpaqueRef:…</value>`).
// undefined (a void method) is the empty string.
export function encodeXmlRpcValue(value: unknown): string {
  if (value === undefined || value === null) return '';
  return encode(value);
}

function encode(value: unknown): string {
  if (typeof value === 'string') return `<value>${escapeXml(value)}</value>`;
  if (typeof value === 'boolean') return `<value><boolean>${value ? 1 : 0}</boolean></value>`;
  if (typeof value === 'number') {
    return Number.isInteger(value) ? `<value><int>${value}</int></value>` : `<value><double>${value}</double></value>`;
  }
  if (Array.isArray(value)) return `<value><array><data>${value.map(encode).join('')}</data></array></value>`;
  if (typeof value === 'object' && value !== null) {
    const members = Object.entries(value)
      .map(([k, v]) => `<member><name>${escapeXml(k)}</name>${encode(v)}</member>`)
      .join('');
    return `<value><struct>${members}</struct></value>`;
  }
  return `<value>${escapeXml(String(value))}</value>`;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
