"""OCR of scanned PDFs and images (Chinese first), run in the background as jobs of their own."""
