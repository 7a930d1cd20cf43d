"""The package version (a module of its own, so any layer may read it without importing the
package front door, which imports every layer)."""

__version__ = "0.1.0"
