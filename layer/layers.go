package layer

import "regexp"

// Statuses of a work, in the order a work goes through them.
var Statuses = []string{"planned", "under_construction", "completed", "cancelled"}

// Enumerations shared by the declarations below and by the definitions.
var (
	RoadClasses  = []string{"county", "township", "village", "group"}
	TechGrades   = []string{"expressway", "class1", "class2", "class3", "class4", "substandard"}
	Surfaces     = []string{"earth", "gravel", "stone", "cement", "asphalt"}
	AdminLevels  = []string{"province", "prefecture", "county", "township", "village"}
	HazardKinds  = []string{"landslide", "debris_flow", "flood", "subsidence"}
	Severities   = []string{"low", "medium", "high"}
	FacilityKind = []string{"school", "clinic", "hospital", "market", "bus_stop", "water_source"}
)

func ptr(f float64) *float64 { return &f }

// AdminCodePattern matches a 12-digit statistical division code.
var AdminCodePattern = regexp.MustCompile(`^[0-9]{12}$`)

// commonFields are on every table. status is required on programme works.
func commonFields(statusRequired bool) []Field {
	return []Field{
		{Name: "ext_id", Label: "External id", LabelZH: "外部编号", Type: Text},
		{Name: "name", Label: "Name", LabelZH: "名称", Type: Text, Tile: true},
		{Name: "admin_code", Label: "Admin code", LabelZH: "行政区划代码", Type: Text, Pattern: AdminCodePattern},
		{Name: "status", Label: "Status", LabelZH: "状态", Type: Enum, Enum: Statuses, Required: statusRequired, Tile: true},
		{Name: "started_on", Label: "Started on", LabelZH: "开工日期", Type: Date},
		{Name: "completed_on", Label: "Completed on", LabelZH: "完工日期", Type: Date, Tile: true},
		{Name: "funding_yuan", Label: "Funding", LabelZH: "投资", Type: Money, Unit: "yuan", Min: ptr(0)},
		{Name: "props", Label: "Other attributes", LabelZH: "其他属性", Type: Object},
		{Name: "version", Label: "Version", LabelZH: "版本", Type: Integer, ReadOnly: true},
		{Name: "updated_at", Label: "Updated at", LabelZH: "更新时间", Type: Text, ReadOnly: true},
		{Name: "updated_by", Label: "Updated by", LabelZH: "更新人", Type: Text, ReadOnly: true},
	}
}

func fields(statusRequired bool, own ...Field) []Field {
	return append(commonFields(statusRequired), own...)
}

// Default returns the lastmile catalog: the five programme layers and the
// four reference layers of DESIGN.md §3.
func Default() *Catalog {
	return New(
		&Layer{
			Name: "roads", Title: "Village roads", TitleZH: "农村公路", Table: "roads",
			GeomKinds: []string{LineString, MultiLineString}, MinZoom: 6, MaxZoom: 14, DetailZoom: 6,
			Fields: fields(true,
				Field{Name: "road_class", Label: "Road class", LabelZH: "行政等级", Type: Enum, Enum: RoadClasses, Tile: true},
				Field{Name: "tech_grade", Label: "Technical grade", LabelZH: "技术等级", Type: Enum, Enum: TechGrades, Tile: true},
				Field{Name: "surface", Label: "Surface", LabelZH: "路面类型", Type: Enum, Enum: Surfaces, Tile: true},
				Field{Name: "width_m", Label: "Width", LabelZH: "路面宽度", Type: Number, Unit: "m", Min: ptr(0), Max: ptr(100)},
			),
		},
		&Layer{
			Name: "water_pipelines", Title: "Drinking-water pipelines", TitleZH: "饮水管网", Table: "water_pipelines",
			GeomKinds: []string{LineString, MultiLineString}, MinZoom: 8, MaxZoom: 14, DetailZoom: 8,
			Fields: fields(true,
				Field{Name: "diameter_mm", Label: "Diameter", LabelZH: "管径", Type: Integer, Unit: "mm", Min: ptr(0), Max: ptr(5000), Tile: true},
				Field{Name: "material", Label: "Material", LabelZH: "管材", Type: Text},
				Field{Name: "households_served", Label: "Households served", LabelZH: "受益户数", Type: Integer, Min: ptr(0)},
				Field{Name: "source_name", Label: "Water source", LabelZH: "水源", Type: Text},
			),
		},
		&Layer{
			Name: "power_upgrades", Title: "Electricity-grid upgrades", TitleZH: "电网改造", Table: "power_upgrades",
			GeomKinds: []string{LineString, MultiLineString, Point}, MinZoom: 8, MaxZoom: 14, DetailZoom: 10,
			Fields: fields(true,
				Field{Name: "kind", Label: "Kind", LabelZH: "类型", Type: Enum, Enum: []string{"line", "transformer"}, Required: true, Tile: true},
				Field{Name: "voltage_kv", Label: "Voltage", LabelZH: "电压", Type: Number, Unit: "kV", Min: ptr(0), Max: ptr(1100), Tile: true},
				Field{Name: "capacity_kva", Label: "Capacity", LabelZH: "容量", Type: Number, Unit: "kVA", Min: ptr(0)},
			),
		},
		&Layer{
			Name: "house_renovations", Title: "Dilapidated-house renovations", TitleZH: "危房改造", Table: "house_renovations",
			GeomKinds: []string{Point}, MinZoom: 10, MaxZoom: 14, DetailZoom: 12,
			Fields: fields(true,
				Field{Name: "danger_grade", Label: "Danger grade", LabelZH: "危险等级", Type: Enum, Enum: []string{"C", "D"}, Tile: true},
				Field{Name: "work", Label: "Work", LabelZH: "改造方式", Type: Enum, Enum: []string{"repair", "rebuild"}, Tile: true},
				Field{Name: "households", Label: "Households", LabelZH: "户数", Type: Integer, Min: ptr(0)},
				Field{Name: "persons", Label: "Persons", LabelZH: "人数", Type: Integer, Min: ptr(0)},
				Field{Name: "subsidy_yuan", Label: "Subsidy", LabelZH: "补助资金", Type: Money, Unit: "yuan", Min: ptr(0)},
			),
		},
		&Layer{
			Name: "relocation_sites", Title: "Relocation sites", TitleZH: "易地扶贫搬迁安置点", Table: "relocation_sites",
			GeomKinds: []string{Polygon, MultiPolygon, Point}, MinZoom: 8, MaxZoom: 14, DetailZoom: 8,
			Fields: fields(true,
				Field{Name: "capacity_households", Label: "Capacity", LabelZH: "安置规模", Type: Integer, Unit: "households", Min: ptr(0), Tile: true},
				Field{Name: "relocated_households", Label: "Relocated", LabelZH: "已搬迁户数", Type: Integer, Unit: "households", Min: ptr(0), Tile: true},
				Field{Name: "facilities", Label: "Facilities", LabelZH: "配套设施", Type: Text},
			),
		},
		&Layer{
			Name: "villages", Title: "Villages", TitleZH: "行政村", Table: "villages", Reference: true,
			GeomKinds: []string{Point}, MinZoom: 8, MaxZoom: 14, DetailZoom: 10,
			Fields: fields(false,
				Field{Name: "code", Label: "Village code", LabelZH: "村代码", Type: Text, Pattern: AdminCodePattern, Tile: true},
				Field{Name: "population", Label: "Population", LabelZH: "人口", Type: Integer, Min: ptr(0), Tile: true},
				Field{Name: "poor_households", Label: "Poor households", LabelZH: "贫困户数", Type: Integer, Min: ptr(0)},
				Field{Name: "poor_population", Label: "Poor population", LabelZH: "贫困人口", Type: Integer, Min: ptr(0)},
				Field{Name: "is_poor_village", Label: "Poor village", LabelZH: "贫困村", Type: Boolean, Tile: true},
			),
		},
		&Layer{
			Name: "admin_areas", Title: "Administrative areas", TitleZH: "行政区划", Table: "admin_areas", Reference: true,
			GeomKinds: []string{MultiPolygon}, MinZoom: 0, MaxZoom: 14, DetailZoom: 0,
			Fields: fields(false,
				Field{Name: "level", Label: "Level", LabelZH: "级别", Type: Enum, Enum: AdminLevels, Required: true, Tile: true},
				Field{Name: "code", Label: "Code", LabelZH: "代码", Type: Text, Pattern: AdminCodePattern, Required: true, Tile: true},
				Field{Name: "parent_code", Label: "Parent code", LabelZH: "上级代码", Type: Text, Pattern: AdminCodePattern},
			),
		},
		&Layer{
			Name: "hazard_zones", Title: "Geological-hazard zones", TitleZH: "地质灾害隐患区", Table: "hazard_zones", Reference: true,
			GeomKinds: []string{MultiPolygon}, MinZoom: 6, MaxZoom: 14, DetailZoom: 6,
			Fields: fields(false,
				Field{Name: "kind", Label: "Kind", LabelZH: "灾害类型", Type: Enum, Enum: HazardKinds, Required: true, Tile: true},
				Field{Name: "severity", Label: "Severity", LabelZH: "危险程度", Type: Enum, Enum: Severities, Tile: true},
			),
		},
		&Layer{
			Name: "facilities", Title: "Public facilities", TitleZH: "公共服务设施", Table: "facilities", Reference: true,
			GeomKinds: []string{Point}, MinZoom: 10, MaxZoom: 14, DetailZoom: 12,
			Fields: fields(false,
				Field{Name: "kind", Label: "Kind", LabelZH: "类型", Type: Enum, Enum: FacilityKind, Required: true, Tile: true},
			),
		},
	)
}
