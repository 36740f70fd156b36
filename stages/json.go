package stages

import "encoding/json"

// FromJSON turns decoded JSON back into the values expressions make:
// integral numbers become int, others float64; maps and lists recursively.
func FromJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return int(n)
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = FromJSON(e)
		}
	case []any:
		for i, e := range x {
			x[i] = FromJSON(e)
		}
	}
	return v
}
