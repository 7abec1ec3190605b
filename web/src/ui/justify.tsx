import { Field, TextArea } from './controls.js';

/** AZ-5: admin changes carry a written reason; the server checks it (10+ characters) and records it in the audit log. */
export function JustificationField({ value, onChange, error }: { value: string; onChange: (value: string) => void; error: string | undefined }) {
  return (
    <Field label="Justification" required hint="Why is this change needed? Recorded in the audit log with your name." error={error}>
      {({ id, describedBy, invalid }) => <TextArea id={id} name="justification" value={value} onChange={(e) => onChange(e.target.value)} aria-describedby={describedBy} aria-invalid={invalid} aria-required className="min-h-20" />}
    </Field>
  );
}
