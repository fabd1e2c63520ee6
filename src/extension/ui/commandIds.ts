/** Command ids (also listed in package.json's contributes.commands). */
export const Commands = {
  enable: 'superdraft.enable',
  disable: 'superdraft.disable',
  toggle: 'superdraft.toggle',
  chooseStrategy: 'superdraft.chooseStrategy',
  openDraftPicker: 'superdraft.openDraftPicker',
  compareStrategies: 'superdraft.compareStrategies',
  restart: 'superdraft.restartInference',
  diagnostics: 'superdraft.showDiagnostics',
  showMenu: 'superdraft.showMenu',
  showLog: 'superdraft.showLog',
  showNext: 'superdraft.showNextDraft',
  showPrevious: 'superdraft.showPreviousDraft',
  accepted: 'superdraft.accepted',
  reindex: 'superdraft.reindexWorkspace',
} as const;
