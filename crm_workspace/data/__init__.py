"""The data layer: schema of the shared tables, the Store, permissions and field rules.

It knows no Workspace, Panel, param or click: everything above builds on it.
"""
