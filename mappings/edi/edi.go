// Package edi reads and writes ANSI X12 and UN/EDIFACT interchanges for the
// mapping language: readers turn bytes into the document tree of package
// mappings/doc, writers turn such a tree back into bytes with correct control
// numbers and counts. It imports nothing of the hub's but mappings/doc.
//
// # The tree
//
// An interchange is a tree of segment objects. A segment object holds its
// elements under positional keys "01", "02", ... (three digits past 99) and,
// for envelope headers and loop-starting segments, the segments nested in it
// under their segment ids. Positional keys are digits and segment ids start
// with a letter, so the two never collide. The rules, for both syntaxes:
//
//   - An empty element is absent: "AT7*X3*NS***20250312" has no "03" or "04".
//   - An element with a component after the first is an object of components
//     "01", "02", ...; otherwise it is a string, so "BGM+23" and "BGM+23:::"
//     both give "01": "23". Empty components are absent.
//   - A repeated element (X12 ISA11, EDIFACT syntax 4 '*') is a list; an
//     empty repetition is null.
//   - A segment id seen once under a parent is an object; seen again it
//     becomes a list, in order (doc.Object.Append). A list always means
//     repetition: "LX[2]" is the third LX.
//   - Every value is text as sent ("148275", "0815"): the mapping converts with
//     number() and date(). EDIFACT release characters are removed.
//   - Trailers (SE, GE, IEA, UNT, UNE, UNZ) sit last in the envelope they close;
//     writers regenerate them, so a mapping that builds a tree leaves them out.
//
// Envelopes nest: X12 root → "ISA" → "GS" → "ST" → body; EDIFACT root →
// optional "UNA" (the six service characters as one string) → "UNB" → optional
// "UNG" → "UNH" → body. Inside a body, segments nest in the loops (X12) or
// segment groups (EDIFACT) of a Schema: the built-in one knows the 204, 210,
// 214 and 990 loops and the IFTSTA and IFTMIN groups, and a caller can pass
// its partner's. A segment that starts a loop holds the loop's other segments.
//
// A 214 (shipment status) with two N1 loops and three LX loops, abridged:
//
//	ISA*00*          *00*          *02*ABCD           *ZZ*CARRIERHUBTMS  *250314*1432*U*00401*000004521*0*P*>~
//	GS*QM*ABCD*CARRIERHUBTMS*20250314*1432*4521*X*004010~
//	ST*214*0001~
//	B10*7730045512*BOL-2025-00871*ABCD~
//	N1*CN*NORTHSTAR RETAIL 114*93*NSR114~
//	N4*MEMPHIS*TN*38118*US~
//	LX*1~
//	AT7*X3*NS***20250312*0815*CT~
//	MS1*DALLAS*TX*US~
//	AT8*G*L*1240*3~
//	...
//
// reads as
//
//	{"ISA": {"01": "00", "03": "00", "05": "02", "06": "ABCD", ..., "13": "000004521", "16": ">",
//	  "GS": {"01": "QM", ..., "06": "4521",
//	    "ST": {"01": "214", "02": "0001",
//	      "B10": {"01": "7730045512", "02": "BOL-2025-00871", "03": "ABCD"},
//	      "N1": [{"01": "SH", ...}, {"01": "CN", "02": "NORTHSTAR RETAIL 114", "03": "93", "04": "NSR114",
//	              "N4": {"01": "MEMPHIS", "02": "TN", "03": "38118", "04": "US"}}],
//	      "LX": [{"01": "1",
//	              "AT7": {"01": "X3", "02": "NS", "05": "20250312", "06": "0815", "07": "CT",
//	                      "MS1": {"01": "DALLAS", "02": "TX", "03": "US"}},
//	              "AT8": {"01": "G", "02": "L", "03": "1240", "04": "3"}}, ...],
//	      "SE": {"01": "26", "02": "0001"}},
//	    "GE": {...}},
//	  "IEA": {...}}}
//
// so the latest status is the last LX's AT7.01 (ISA.GS.ST.LX[2].AT7.01
// here) and its city the last LX's AT7.MS1.01. In a 210 (freight invoice) the charges are
// ISA.GS.ST.LX[i].L1.04 (in cents, implied two decimals), the total
// ISA.GS.ST.L3.05 and the bill-to party the N1 whose "01" is "BT", with its
// address in .N3 and .N4. In an IFTSTA (status report) the events are
// UNB.UNH.CNI.STS[i]: the event code STS.02.01 (or its text STS.02.04),
// the time STS.DTM.01.02, the place STS.LOC.02.01 and the vehicle STS.TDT.
// The golden trees of the fixtures, testdata/*.json, show every shape.
//
// # Validation and limits
//
// Readers check that every trailer's count and control number match what it
// closes and report the first mismatch as an *Error of kind ErrControl with
// the 1-based position, id and byte offset of the offending segment. X12
// separators are taken from each ISA, never assumed; EDIFACT ones from the UNA
// or the defaults. Input is UTF-8 (EDIFACT UNOC: ISO 8859-1, decoded), and
// Limits bound its size, segment count, elements per segment and nesting.
//
// # Writing
//
// WriteX12 and WriteEDIFACT take the same shape back. They generate every
// trailer, take control numbers from the tree or from a Counter, escape
// EDIFACT separators with the release character, and refuse X12 data that
// holds a separator (X12 has no release character) with an ErrUnwritable
// naming the path of the value. Reading what a writer wrote gives the same
// tree, trailers aside, for any tree a reader produced without loops, and for
// trees whose segments follow their loops' order.
package edi
