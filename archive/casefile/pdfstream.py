"""A PDF written as it is assembled: documents are copied in one at a time, each object is
written to the output as soon as it is read, and only the page references and the outline
are kept until the end. Memory stays of the order of the largest single document, not of
the whole case (pypdf's ``PdfWriter`` keeps every object until it writes).

Objects are read with pypdf; references are renumbered on the way out; attributes a page
inherits from its source page tree (resources, boxes, rotation) are written on the page.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO

from pypdf import PdfReader
from pypdf.generic import (
    ArrayObject, DictionaryObject, IndirectObject, NameObject, NullObject, NumberObject, PdfObject, StreamObject,
    TextStringObject,
)

INHERITED = ("/Resources", "/MediaBox", "/CropBox", "/Rotate")


@dataclass
class Bookmark:
    title: str
    page: int  # 0-based page index in the output
    children: list["Bookmark"] = field(default_factory=list)


class _Ref(IndirectObject):
    """A reference to an object of the output (no reader behind it)."""

    def __init__(self, num: int) -> None:
        super().__init__(num, 0, None)  # type: ignore[arg-type]


class StreamingPdf:
    def __init__(self, out: IO[bytes]) -> None:
        self.out = out
        self.offsets: dict[int, int] = {}
        self.next_num = 1
        self.pages: list[int] = []
        out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        self.pages_num = self._alloc()

    def _alloc(self) -> int:
        n = self.next_num
        self.next_num += 1
        return n

    def _write(self, num: int, obj: PdfObject) -> None:
        self.offsets[num] = self.out.tell()
        self.out.write(f"{num} 0 obj\n".encode())
        obj.write_to_stream(self.out)
        self.out.write(b"\nendobj\n")

    def add(self, reader: PdfReader) -> int:
        """Copy every page of ``reader``; returns the output index of its first page."""
        first = len(self.pages)
        mapping: dict[int, int] = {}
        pending: list[tuple[IndirectObject, int]] = []

        def ref(indirect: IndirectObject) -> IndirectObject:
            if indirect.idnum not in mapping:
                mapping[indirect.idnum] = self._alloc()
                pending.append((indirect, mapping[indirect.idnum]))
            return _Ref(mapping[indirect.idnum])

        def conv(obj):
            if isinstance(obj, IndirectObject):
                return ref(obj)
            if isinstance(obj, StreamObject):
                new = type(obj)()
                new._data = obj._data  # the stream's bytes as stored (filters kept)
                for k, v in obj.items():
                    if k != "/Length":
                        new[NameObject(k)] = conv(v)
                return new
            if isinstance(obj, DictionaryObject):
                new_d = DictionaryObject()
                is_node = obj.get("/Type") in ("/Page", "/Pages")
                for k, v in obj.items():
                    if k == "/Parent" and is_node:
                        continue  # never follow into the source's page tree
                    new_d[NameObject(k)] = conv(v)
                return new_d
            if isinstance(obj, ArrayObject):
                return ArrayObject(conv(x) for x in obj)
            return obj

        pages = list(reader.pages)
        nums = []
        for page in pages:  # pages first, so that links to them (/P, /Dest) land on the copies
            num = self._alloc()
            if page.indirect_reference is not None:
                mapping[page.indirect_reference.idnum] = num
            nums.append(num)
        for page, num in zip(pages, nums):
            d = conv(DictionaryObject({k: v for k, v in page.items() if k != "/Parent"}))
            for key in INHERITED:
                if key not in page:
                    node = page.get("/Parent")
                    while node is not None:
                        node = node.get_object()
                        if key in node:
                            d[NameObject(key)] = conv(node[key])
                            break
                        node = node.get("/Parent")
            d[NameObject("/Type")] = NameObject("/Page")
            d[NameObject("/Parent")] = _Ref(self.pages_num)
            self._write(num, d)
            self.pages.append(num)
            while pending:  # everything the page reaches, written as soon as it is read
                src, n = pending.pop()
                obj = src.get_object()
                self._write(n, conv(obj) if obj is not None else NullObject())
        return first

    def _outline(self, items: list[Bookmark], parent: int) -> tuple[int, int, int]:
        """Write ``items`` (and their children) under ``parent``; (first, last, count)."""
        nums = [self._alloc() for _ in items]
        total = 0
        for i, (item, num) in enumerate(zip(items, nums)):
            d = DictionaryObject({
                NameObject("/Title"): TextStringObject(item.title), NameObject("/Parent"): _Ref(parent),
                NameObject("/Dest"): ArrayObject([_Ref(self.pages[item.page]), NameObject("/Fit")]),
            })
            if i > 0:
                d[NameObject("/Prev")] = _Ref(nums[i - 1])
            if i + 1 < len(nums):
                d[NameObject("/Next")] = _Ref(nums[i + 1])
            if item.children:
                first, last, count = self._outline(item.children, num)
                d[NameObject("/First")], d[NameObject("/Last")] = _Ref(first), _Ref(last)
                d[NameObject("/Count")] = NumberObject(count)
                total += count
            self._write(num, d)
            total += 1
        return nums[0], nums[-1], total

    def finish(self, outline: list[Bookmark]) -> int:
        """Write the page tree, the outline, the catalog and the cross-reference table."""
        self._write(self.pages_num, DictionaryObject({
            NameObject("/Type"): NameObject("/Pages"), NameObject("/Count"): NumberObject(len(self.pages)),
            NameObject("/Kids"): ArrayObject(_Ref(n) for n in self.pages)}))
        catalog = DictionaryObject({NameObject("/Type"): NameObject("/Catalog"),
                                    NameObject("/Pages"): _Ref(self.pages_num)})
        if outline:
            root = self._alloc()
            first, last, count = self._outline(outline, root)
            self._write(root, DictionaryObject({
                NameObject("/Type"): NameObject("/Outlines"), NameObject("/First"): _Ref(first),
                NameObject("/Last"): _Ref(last), NameObject("/Count"): NumberObject(count)}))
            catalog[NameObject("/Outlines")] = _Ref(root)
            catalog[NameObject("/PageMode")] = NameObject("/UseOutlines")
        catalog_num = self._alloc()
        self._write(catalog_num, catalog)
        xref = self.out.tell()
        size = self.next_num
        self.out.write(f"xref\n0 {size}\n0000000000 65535 f \n".encode())
        for n in range(1, size):
            if n in self.offsets:
                self.out.write(f"{self.offsets[n]:010d} 00000 n \n".encode())
            else:
                self.out.write(b"0000000000 00000 f \n")
        self.out.write(f"trailer\n<< /Size {size} /Root {catalog_num} 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
        return len(self.pages)
