package adf

import (
	"bytes"
	"encoding/json"
)

// maxJSONDepth bounds the containers decodePartial builds. An ADF node costs
// two JSON levels (the node object and its content array) plus a few for
// attrs, so this keeps every node the renderer can reach and drops the rest
// while reading instead of holding it in memory.
const maxJSONDepth = 2*maxDepth + 16

// frame is a JSON container under construction.
type frame struct {
	obj      map[string]any // set for an object
	arr      []any          // used for an array
	isObj    bool
	key      string // object key waiting for its value
	wantsKey bool   // next string token in this object is a key
}

// decodePartial decodes JSON token by token and returns the value built so
// far when it meets an error: containers left open are closed where they
// stand, so a truncated or corrupted document still renders its beginning.
// Containers nested deeper than maxJSONDepth are skipped.
func decodePartial(raw []byte) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	var (
		stack []*frame
		root  any
		done  bool
		skip  int // depth inside a skipped container
	)
	// attach hands a finished value to the innermost open container, or
	// makes it the root.
	attach := func(v any) {
		if len(stack) == 0 {
			root, done = v, true
			return
		}
		f := stack[len(stack)-1]
		if !f.isObj {
			f.arr = append(f.arr, v)
			return
		}
		f.obj[f.key] = v
		f.wantsKey = true
	}
	closeTop := func() {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if f.isObj {
			attach(f.obj)
		} else {
			attach(f.arr)
		}
	}
	for !done {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		if skip > 0 {
			switch tok {
			case json.Delim('{'), json.Delim('['):
				skip++
			case json.Delim('}'), json.Delim(']'):
				skip--
				if skip == 0 {
					// The skipped value leaves its key unset in an object.
					if f := stack[len(stack)-1]; f.isObj {
						f.wantsKey = true
					}
				}
			}
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxJSONDepth {
				skip = 1
				continue
			}
			if tok == json.Delim('{') {
				stack = append(stack, &frame{obj: map[string]any{}, isObj: true, wantsKey: true})
			} else {
				stack = append(stack, &frame{})
			}
		case json.Delim('}'), json.Delim(']'):
			if len(stack) == 0 {
				done = true
				break
			}
			closeTop()
		default:
			if n := len(stack); n > 0 && stack[n-1].isObj && stack[n-1].wantsKey {
				if k, ok := tok.(string); ok {
					stack[n-1].key, stack[n-1].wantsKey = k, false
				}
				continue
			}
			attach(tok)
		}
	}
	// A key read without its value was never stored, so closing the open
	// containers as they stand loses nothing that was complete.
	for len(stack) > 0 {
		closeTop()
	}
	return root
}
