package layer

// Document is the catalog as clients read it (the map page's
// /app/catalog.json): the layers with their fields, types, units and enum
// values (labels, colours), and the shared definitions. The page declares
// none of this itself.
type Document struct {
	Layers []DocLayer `json:"layers"`
	// Definitions: name → the description every response using it states.
	Definitions map[string]string `json:"definitions"`
	Hardened    []string          `json:"hardened"` // HardenedSurfaces
	Graded      []string          `json:"graded"`   // GradedTechGrades
	// Speeds are the travel speeds of metric=time (RoadSpeedsKmh,
	// SurfaceSpeedFactors, WalkingSpeedKmh), "none" for a road without a
	// grade or surface; a request may override them (speeds=).
	Speeds DocSpeeds `json:"speeds"`
}

// DocSpeeds are the catalog's travel speeds as a Document states them.
type DocSpeeds struct {
	GradeKmh      map[string]float64 `json:"grade_kmh"`
	SurfaceFactor map[string]float64 `json:"surface_factor"`
	WalkingKmh    float64            `json:"walking_kmh"`
	Source        string             `json:"source"`
}

// DocLayer is one layer of a Document.
type DocLayer struct {
	Name      string     `json:"name"`
	Title     string     `json:"title"`
	TitleZH   string     `json:"title_zh"`
	GeomKinds []string   `json:"geometry_kinds"`
	MinZoom   int        `json:"minzoom"`
	MaxZoom   int        `json:"maxzoom"`
	Reference bool       `json:"reference"`
	Fields    []DocField `json:"fields"`
}

// DocField is one field of a DocLayer.
type DocField struct {
	Name     string     `json:"name"`
	Label    string     `json:"label"`
	LabelZH  string     `json:"label_zh"`
	Type     string     `json:"type"`
	Enum     []string   `json:"enum,omitempty"`
	Values   []DocValue `json:"values,omitempty"`
	Unit     string     `json:"unit,omitempty"`
	ReadOnly bool       `json:"read_only,omitempty"`
	Tile     bool       `json:"tile,omitempty"`
}

// DocValue is one enum value of a DocField.
type DocValue struct {
	Code     string   `json:"code"`
	Label    string   `json:"label"`
	LabelZH  string   `json:"label_zh"`
	Synonyms []string `json:"synonyms,omitempty"`
	Color    string   `json:"color,omitempty"`
	Width    float64  `json:"width,omitempty"`
	Opacity  float64  `json:"opacity,omitempty"`
}

// Document returns the catalog as clients read it.
func (c *Catalog) Document() Document {
	d := Document{Definitions: map[string]string{}, Hardened: HardenedSurfaces, Graded: GradedTechGrades,
		Speeds: DocSpeeds{GradeKmh: noneKeys(RoadSpeedsKmh), SurfaceFactor: noneKeys(SurfaceSpeedFactors), WalkingKmh: WalkingSpeedKmh,
			Source: "China's Technical Standard of Highway Engineering JTG B01-2014, design speeds for hilly terrain; surface factors lastmile's"}}
	for _, l := range c.Layers() {
		dl := DocLayer{Name: l.Name, Title: l.Title, TitleZH: l.TitleZH, GeomKinds: l.GeomKinds,
			MinZoom: l.MinZoom, MaxZoom: l.MaxZoom, Reference: l.Reference}
		for _, f := range l.Fields {
			df := DocField{Name: f.Name, Label: f.Label, LabelZH: f.LabelZH, Type: string(f.Type),
				Enum: f.Enum, Unit: f.Unit, ReadOnly: f.ReadOnly, Tile: f.Tile}
			for _, v := range f.Values {
				df.Values = append(df.Values, DocValue{Code: v.Code, Label: v.Label, LabelZH: v.LabelZH,
					Synonyms: v.Synonyms, Color: v.Color, Width: v.Width, Opacity: v.Opacity})
			}
			dl.Fields = append(dl.Fields, df)
		}
		d.Layers = append(d.Layers, dl)
	}
	for name, def := range Definitions() {
		d.Definitions[name] = def.Description
	}
	return d
}

// noneKeys copies a speed table with the key "" as "none".
func noneKeys(m map[string]float64) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		if k == "" {
			k = "none"
		}
		out[k] = v
	}
	return out
}
