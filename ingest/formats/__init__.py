"""Readers for the document formats that need more than a decoder: HWP, HWPX, Office, PDF, images."""
