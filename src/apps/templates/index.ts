import crm from './crm.json' with { type: 'json' };
import helpdesk from './helpdesk.json' with { type: 'json' };

/** Built-in app templates (linted by a test; installed in the demo tenant). Plain JSON specs. */
export const TEMPLATES: Readonly<Record<'crm' | 'helpdesk', unknown>> = { crm, helpdesk };
export type TemplateName = keyof typeof TEMPLATES;
