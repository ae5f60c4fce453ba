#!/usr/bin/env python3
"""Writes the PDF fixtures of the extraction tests, byte for byte reproducibly.

Debian's groff here lacks gropdf and no PDF library is installed, so the PDFs
are written by hand: PDF 1.4, Helvetica (a standard font, nothing embedded),
one uncompressed content stream per page, a correct xref table.

  sample.pdf      two pages, Info /Title /Author /Subject
  encrypted.pdf   the same, RC4-40 (standard security handler R2), user
                  password "secret": cannot be opened without it
  owner_only.pdf  the same with an empty user password (owner password only:
                  opens without a password)
  truncated.pdf   sample.pdf cut in the middle of its first content stream
  garbage.pdf     a %PDF- header followed by junk
  not_a_pdf.pdf   plain text with a .pdf name
  running.pdf     four pages under a running header and "Page N of 4" footers

Usage: python3 src/text/testdata/make_pdfs.py [OUT_DIR]   (default: next to this file)
"""
import hashlib
import os
import sys

PAGES = [
    [
        "Chapter One: Getting Started",
        "",
        "Ragline extracts text from PDF files with poppler.",
        "This sentence is on the first page.",
    ],
    [
        "Chapter Two: Second Page",
        "",
        "The second page talks about chunking by model tokens.",
        "Every chunk keeps byte offsets into the extracted text.",
    ],
]
INFO = {"Title": "Ragline Sample PDF", "Author": "Ragline Tests", "Subject": "PDF fixture"}
PADDING = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
FILE_ID = hashlib.md5(b"ragline sample pdf").digest()


def rc4(key, data):
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    out = bytearray()
    i = j = 0
    for b in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(b ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def pdf_string(raw):
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def content_stream(lines):
    ops = [b"BT", b"/F1 12 Tf", b"16 TL", b"72 720 Td"]
    for line in lines:
        ops.append(pdf_string(line.encode("latin-1")) + b" Tj T*")
    ops.append(b"ET")
    return b"\n".join(ops) + b"\n"


class Encryption:
    """PDF 1.4 standard security handler, revision 2, 40-bit RC4."""

    def __init__(self, user_password, owner_password, permissions=-44):
        pad = lambda pw: (pw + PADDING)[:32]
        owner_key = hashlib.md5(pad(owner_password)).digest()[:5]
        self.o = rc4(owner_key, pad(user_password))
        self.p = permissions
        h = hashlib.md5(pad(user_password) + self.o + (permissions & 0xFFFFFFFF).to_bytes(4, "little") + FILE_ID)
        self.key = h.digest()[:5]
        self.u = rc4(self.key, PADDING)

    def encrypt(self, num, data):
        k = hashlib.md5(self.key + num.to_bytes(3, "little") + (0).to_bytes(2, "little")).digest()[:10]
        return rc4(k, data)

    def dictionary(self):
        return (b"<< /Filter /Standard /V 1 /R 2 /O <" + self.o.hex().encode() + b"> /U <" +
                self.u.hex().encode() + b"> /P " + str(self.p).encode() + b" >>")


RUNNING = [["ACME Widget Manual", "", f"Section {i}: {topic}.", "", f"Page {i} of 4"]
           for i, topic in enumerate(["Widgets are assembled by hand", "Boxes hold ten widgets each",
                                      "Returns need the original receipt", "Spare parts ship within a week"],
                                     start=1)]


def build(encryption=None, pages=PAGES):
    # Object numbers: 1 catalog, 2 pages, 3 font, 4 info, then page/content pairs, then encrypt.
    objects = {}
    n_pages = len(pages)
    page_nums = [5 + 2 * i for i in range(n_pages)]
    enc = (lambda num, data: encryption.encrypt(num, data)) if encryption else (lambda num, data: data)
    objects[1] = b"<< /Type /Catalog /Pages 2 0 R >>"
    kids = b" ".join(b"%d 0 R" % n for n in page_nums)
    objects[2] = b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % n_pages
    objects[3] = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    info = b"<<"
    for key, value in INFO.items():
        info += b" /" + key.encode() + b" " + pdf_string(enc(4, value.encode("latin-1")))
    objects[4] = info + b" >>"
    for i, lines in enumerate(pages):
        page, content = page_nums[i], page_nums[i] + 1
        objects[page] = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                         b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % content)
        stream = enc(content, content_stream(lines))
        objects[content] = b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"
    encrypt_num = None
    if encryption:
        encrypt_num = max(objects) + 1
        objects[encrypt_num] = encryption.dictionary()

    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(objects):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + objects[num] + b"\nendobj\n"
    xref = len(out)
    size = max(objects) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    for num in range(1, size):
        out += b"%010d 00000 n \n" % offsets[num]
    trailer = b"<< /Size %d /Root 1 0 R /Info 4 0 R /ID [<%s> <%s>]" % (size, FILE_ID.hex().encode(),
                                                                       FILE_ID.hex().encode())
    if encrypt_num:
        trailer += b" /Encrypt %d 0 R" % encrypt_num
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    sample = build()
    files = {
        "sample.pdf": sample,
        "encrypted.pdf": build(Encryption(b"secret", b"owner")),
        "owner_only.pdf": build(Encryption(b"", b"owner")),
        "truncated.pdf": sample[: sample.index(b"stream\n") + 40],
        "garbage.pdf": b"%PDF-1.7\n" + bytes((i * 97 + 13) % 256 for i in range(600)),
        "not_a_pdf.pdf": b"This is a plain text file that only pretends to be a PDF.\n",
        "running.pdf": build(pages=RUNNING),
    }
    for name, data in files.items():
        with open(os.path.join(out_dir, name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
