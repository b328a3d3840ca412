"""Built-in families, installed as ``tdw.families``: each folder is one family.

A folder with an ``__init__.py`` that defines ``FAMILY`` is a family. Packaging discovers
it and registers it through the ``tdw.families`` entry-point group, the same way a plugin
package registers its own (see ``docs/writing_a_family.md``).
"""
