"""The node types of the format: pure data, shared by the descriptor (:mod:`nirhub_npjson.plugin`)
and the codec (:mod:`nirhub_npjson.format`) so that neither imports the other."""

from nirhub.backend import ALL_NODE_TYPES

#: the node types version 1 of the format defines: every NIR type but Delay and Threshold
NODE_TYPES = ALL_NODE_TYPES - {"Delay", "Threshold"}
