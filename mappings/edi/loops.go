package edi

import (
	"slices"

	"github.com/carrierhub/hub/mappings/doc"
)

// Loop describes one loop (X12) or segment group (EDIFACT) of a transaction
// set or message: the segment that starts it and the segments that may follow
// it inside. The readers nest a loop's segments under the segment that starts
// it, so a mapping addresses "LX.AT7.01" rather than counting positions.
type Loop struct {
	// ID is the id of the segment that starts the loop, such as "N1" or "LX".
	ID string
	// Segments lists the ids of the other segments of the loop, nested loops
	// excluded.
	Segments []string
	// Loops lists the loops nested in this one.
	Loops []Loop
}

// Schema maps a transaction set id (X12 ST01, such as "214") or a message type
// (EDIFACT UNH02.01, such as "IFTSTA") to its top-level loops. A reader given
// no schema uses the built-in one (X12Schema or EDIFACTSchema); a reader given
// an empty, non-nil Schema nests nothing.
//
// A segment that arrives while a loop is open joins the innermost open loop
// that lists it or starts one of that loop's nested loops; otherwise loops are
// closed until one accepts it, and at the top it is added to the transaction
// itself. A segment id listed both in a loop and in a loop nested in it makes
// the nesting depend on order, so a tree written back and read again may nest
// differently; the built-in schemas avoid it where the standards allow.
type Schema map[string][]Loop

// X12Schema returns the built-in loops for the transportation transaction
// sets: 204 (load tender), 210 (freight invoice), 214 (shipment status) and
// 990 (load tender response, which has no loops). They follow the 004010
// tables; partners' guides that add loops need a Schema of their own.
func X12Schema() Schema {
	n1 := Loop{ID: "N1", Segments: []string{"N2", "N3", "N4", "G61", "G62", "L11", "N9"}}
	return Schema{
		"204": {
			n1,
			{ID: "N7", Segments: []string{"N7A", "N7B", "MEA", "M7"}},
			{ID: "S5", Segments: []string{"L11", "G62", "AT8", "LAD", "NTE", "PLD"}, Loops: []Loop{
				{ID: "N1", Segments: []string{"N2", "N3", "N4", "G61"}},
				{ID: "OID", Segments: []string{"LAD", "G62"}},
			}},
		},
		"210": {
			n1,
			{ID: "N7", Segments: []string{"M7"}},
			{ID: "S5", Segments: []string{"G62", "H3"}},
			{ID: "LX", Segments: []string{"POD", "L5", "H1", "H2", "L0", "L1", "L4", "L7", "K1"}},
		},
		"214": {
			n1,
			{ID: "LX", Segments: []string{"L11", "MAN", "Q7", "K1", "AT5", "AT8"}, Loops: []Loop{
				{ID: "AT7", Segments: []string{"MS1", "MS2"}},
				{ID: "CD3", Segments: []string{"NM1"}},
			}},
		},
		"990": nil,
	}
}

// EDIFACTSchema returns the built-in segment groups for IFTSTA (status report)
// and IFTMIN (instruction), after the D.96A to D.01B tables, reduced to the
// groups carriers send.
func EDIFACTSchema() Schema {
	nad := Loop{ID: "NAD", Segments: []string{"LOC", "MOA"}, Loops: []Loop{
		{ID: "CTA", Segments: []string{"COM"}},
	}}
	return Schema{
		"IFTSTA": {
			nad,
			{ID: "RFF", Segments: []string{"DTM"}},
			{ID: "CNI", Segments: []string{"CNT"}, Loops: []Loop{
				{ID: "STS", Segments: []string{"RFF", "DTM", "DOC", "FTX", "NAD", "LOC", "PCI"}, Loops: []Loop{
					{ID: "TDT", Segments: []string{"TSR"}},
					{ID: "EQD", Segments: []string{"MEA", "DIM", "SEL", "EQN"}},
					{ID: "GID", Segments: []string{"HAN", "TMD", "SGP"}},
				}},
			}},
		},
		"IFTMIN": {
			{ID: "TOD", Segments: []string{"LOC"}},
			{ID: "RFF", Segments: []string{"DTM"}},
			{ID: "TDT", Segments: []string{"TSR", "LOC"}},
			nad,
			{ID: "GID", Segments: []string{"HAN", "TMP", "RNG", "TMD", "PIA", "FTX", "MEA", "DIM", "PCI", "GIN"}, Loops: []Loop{
				{ID: "GDS"},
			}},
			{ID: "EQD", Segments: []string{"EQN", "TMD", "MEA", "DIM", "SEL", "TPL", "HAN", "TMP"}},
		},
	}
}

var (
	builtinX12     = X12Schema()
	builtinEDIFACT = EDIFACTSchema()
)

// nester places a transaction's segments into its loops.
type nester struct {
	stack    []nestFrame
	top      Loop
	maxDepth int
}

type nestFrame struct {
	obj  *doc.Object
	loop *Loop
}

// reset starts a transaction whose header segment object is root.
func (n *nester) reset(root *doc.Object, loops []Loop, maxDepth int) {
	n.top = Loop{Loops: loops}
	n.stack = append(n.stack[:0], nestFrame{obj: root, loop: &n.top})
	n.maxDepth = maxDepth
}

// add places segment seg with the given id; it reports false when a new loop
// would nest deeper than the limit.
func (n *nester) add(id string, seg *doc.Object) bool {
	for {
		f := n.stack[len(n.stack)-1]
		top := len(n.stack) == 1
		if i := slices.IndexFunc(f.loop.Loops, func(l Loop) bool { return l.ID == id }); i >= 0 {
			if len(n.stack) >= n.maxDepth {
				return false
			}
			f.obj.Append(id, seg)
			n.stack = append(n.stack, nestFrame{obj: seg, loop: &f.loop.Loops[i]})
			return true
		}
		if top || slices.Contains(f.loop.Segments, id) {
			f.obj.Append(id, seg)
			return true
		}
		n.stack = n.stack[:len(n.stack)-1]
	}
}
