// A copy of the kinds table with kinds nobody ships, to show that a row reaches every artefact.
import { projectTable, type KindTable } from '../../src/codegen/artefacts.js';
import { row } from '../../src/flux/kinds.js';

export const WidgetGroup = 'widgets.example.fluxcd.io';

/** The project's table plus Widget (source-backed, every option allowed) and the read-only Gadget. */
export const withWidget: KindTable = {
  kinds: [
    ...projectTable.kinds,
    row({
      kind: 'Widget',
      group: WidgetGroup,
      plural: 'widgets',
      versions: ['v1'],
      withSource: true,
      force: true,
      reset: true,
      sourceRefs: [{ path: ['spec', 'sourceRef'] }],
    }),
  ],
  readOnly: [...projectTable.readOnly, { kind: 'Gadget', group: WidgetGroup, plural: 'gadgets' }],
};
