"""File-system images (SPIFFS, LittleFS) behind one interface; see :mod:`.base`."""

from .base import ERASE_BLOCK, FileInfo, FileSystemImage, FsProfile, normalize_path

__all__ = ["ERASE_BLOCK", "FileInfo", "FileSystemImage", "FsProfile", "normalize_path"]
