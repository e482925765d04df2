"""The hub: backend descriptors, plugin discovery, model sources, conversion routing, workers.

Nothing is imported here, so ``import nirhub.hub.<module>`` stays as cheap as that module. The
public functions are re-exported by ``nirhub`` itself (``nirhub.convert``, ``nirhub.to_ir``,
``nirhub.from_ir``, ``nirhub.backends``, ``nirhub.make_registry``); see ``docs/plugin-guide.md``.
"""
