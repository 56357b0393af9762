package static

import (
	"bytes"
	"encoding/json"

	"github.com/lastmile/lastmile/layer"
	"github.com/lastmile/lastmile/rank"
)

// pageCatalog is /app/catalog.json: the catalog document (layers, fields,
// enum values with labels and colours, definitions) and the ranking's
// defaults, so that the page repeats neither.
type pageCatalog struct {
	layer.Document
	Ranking ranking `json:"ranking"`
}

// ranking is the site ranking's defaults, as the ranking code fills them in
// for an empty request.
type ranking struct {
	Factors     []string        `json:"factors"` // in the order the ranking reports them
	Weights     json.RawMessage `json:"weights"`
	DMax        json.RawMessage `json:"d_max_m"`
	Constraints json.RawMessage `json:"constraints"`
	Population  json.RawMessage `json:"population"`
	Limit       int             `json:"limit"`
	CellM       float64         `json:"cell_m"` // grid cell when candidates are a grid
}

func catalogJSON(c *layer.Catalog) pageCatalog {
	var r ranking
	if req, err := rank.ParseRequest(nil); err == nil {
		b, _ := json.Marshal(req)
		json.Unmarshal(b, &r)
	}
	r.CellM = rank.DefaultCellM
	r.Factors = objectKeys(r.Weights)
	return pageCatalog{Document: c.Document(), Ranking: r}
}

// objectKeys returns the keys of a JSON object in their order.
func objectKeys(raw json.RawMessage) []string {
	var keys []string
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return keys
		}
		keys = append(keys, t.(string))
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return keys
		}
	}
	return keys
}
