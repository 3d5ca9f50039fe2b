// What the audit trail keeps of a request: its JSON, fields that could hold a secret replaced,
// cut at MAX_SUMMARY characters. Control requests carry no secrets today; the rule keeps it so
// if one ever does.
const SECRET_FIELD = /password|secret|seed|token|private|credential/i;
export const MAX_SUMMARY = 2048;

export function auditSummary(request: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(request ?? {}, (key, value: unknown) => (key !== '' && SECRET_FIELD.test(key) ? '(hidden)' : value)) ?? '';
  } catch {
    text = '(unreadable)';
  }
  return text.length > MAX_SUMMARY ? `${text.slice(0, MAX_SUMMARY - 1)}…` : text;
}
