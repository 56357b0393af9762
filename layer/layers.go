package layer

import "regexp"

// The enum values, each declared once with its labels, the spellings the
// importer accepts and its map style (enum.go). Adding a value here (and to
// the CHECK constraint in a migration) is all it takes: the importer, the
// OSM mapping, the map page and the generators are checked against these
// lists by TestEnum* tests.
var (
	// StatusValues: the statuses of a work, in the order a work goes
	// through them. Colours: water pipelines (power lines recolour them).
	StatusValues = []Value{
		{Code: "planned", Label: "planned", LabelZH: "规划", Color: "#9b5de5",
			Synonyms: []string{"计划", "拟建", "未开工", "待建", "proposed"}},
		{Code: "under_construction", Label: "under construction", LabelZH: "在建", Color: "#ee9b00",
			Synonyms: []string{"施工中", "建设中", "正在施工", "ongoing", "in_progress", "construction"}},
		{Code: "completed", Label: "completed", LabelZH: "已完工", Color: "#0a9396",
			Synonyms: []string{"完工", "竣工", "已竣工", "建成", "已建成", "done", "finished", "complete", "built"}},
		{Code: "cancelled", Label: "cancelled", LabelZH: "已取消", Color: "#999999",
			Synonyms: []string{"取消", "canceled"}},
	}
	// RoadClassValues: the administrative class of a road; Width is its
	// line width on the map.
	RoadClassValues = []Value{
		{Code: "county", Label: "county", LabelZH: "县道", Width: 4, Synonyms: []string{"县", "x"}},
		{Code: "township", Label: "township", LabelZH: "乡道", Width: 3, Synonyms: []string{"乡", "镇", "y"}},
		{Code: "village", Label: "village", LabelZH: "村道", Width: 2, Synonyms: []string{"村", "c"}},
		{Code: "group", Label: "group", LabelZH: "组道", Width: 1.2, Synonyms: []string{"组", "通组路", "通组道路"}},
	}
	// TechGradeValues: the technical grade of a highway (JTG B01).
	TechGradeValues = []Value{
		{Code: "expressway", Label: "expressway", LabelZH: "高速", Synonyms: []string{"高速公路", "motorway"}},
		{Code: "class1", Label: "class 1", LabelZH: "一级", Synonyms: []string{"一级公路", "i", "1"}},
		{Code: "class2", Label: "class 2", LabelZH: "二级", Synonyms: []string{"二级公路", "ii", "2"}},
		{Code: "class3", Label: "class 3", LabelZH: "三级", Synonyms: []string{"三级公路", "iii", "3"}},
		{Code: "class4", Label: "class 4", LabelZH: "四级", Synonyms: []string{"四级公路", "iv", "4"}},
		{Code: "substandard", Label: "substandard", LabelZH: "等外", Synonyms: []string{"等外路", "等外公路", "等外级"}},
	}
	// SurfaceValues: the road surface; hardened ones are HardenedSurfaces.
	SurfaceValues = []Value{
		{Code: "earth", Label: "earth", LabelZH: "土路", Color: "#9c5a2c",
			Synonyms: []string{"土", "土质", "泥土", "泥路", "素土", "dirt", "ground", "unpaved", "mud", "soil", "grass", "sand"}},
		{Code: "gravel", Label: "gravel", LabelZH: "砂石", Color: "#d4891c",
			Synonyms: []string{"沙石", "砂石路", "碎石", "砾石", "泥结碎石", "fine_gravel", "compacted", "pebblestone"}},
		{Code: "stone", Label: "stone", LabelZH: "块石", Color: "#5e8fc9",
			Synonyms: []string{"石", "石板", "石板路", "条石", "石质", "弹石", "cobblestone", "sett", "paving_stones", "unhewn_cobblestone"}},
		{Code: "cement", Label: "cement", LabelZH: "水泥", Color: "#2a6fdb",
			Synonyms: []string{"水泥路", "水泥路面", "水泥混凝土", "混凝土", "砼", "concrete", "cement_concrete", "concrete:plates", "concrete:lanes"}},
		{Code: "asphalt", Label: "asphalt", LabelZH: "沥青", Color: "#1d3557",
			Synonyms: []string{"沥青路", "沥青路面", "沥青混凝土", "柏油", "柏油路", "bitumen", "tarmac", "blacktop", "paved"}},
	}
	// AdminLevelValues: the level of an administrative area; the map draws
	// county, township and village boundaries (the others in its default).
	AdminLevelValues = []Value{
		{Code: "province", Label: "province", LabelZH: "省", Color: "#888888", Width: 1, Synonyms: []string{"省级"}},
		{Code: "prefecture", Label: "prefecture", LabelZH: "市", Color: "#888888", Width: 1, Synonyms: []string{"地级市", "州"}},
		{Code: "county", Label: "county", LabelZH: "县", Color: "#3d405b", Width: 2.2, Synonyms: []string{"区", "县级"}},
		{Code: "township", Label: "township", LabelZH: "乡镇", Color: "#6d6875", Width: 1.4, Synonyms: []string{"乡", "镇", "街道"}},
		{Code: "village", Label: "village", LabelZH: "村", Color: "#b5a8b5", Width: 0.6, Synonyms: []string{"行政村", "社区"}},
	}
	// HazardKindValues: the kind of a geological hazard.
	HazardKindValues = []Value{
		{Code: "landslide", Label: "landslide", LabelZH: "滑坡", Synonyms: []string{"山体滑坡"}},
		{Code: "debris_flow", Label: "debris flow", LabelZH: "泥石流", Synonyms: []string{"泥石流沟", "mudflow"}},
		{Code: "flood", Label: "flood", LabelZH: "洪涝", Synonyms: []string{"洪水", "内涝"}},
		{Code: "subsidence", Label: "subsidence", LabelZH: "地面塌陷", Synonyms: []string{"塌陷"}},
	}
	// SeverityValues: the danger of a hazard zone; Opacity is its hatching's.
	SeverityValues = []Value{
		{Code: "low", Label: "low", LabelZH: "低", Opacity: 0.5, Synonyms: []string{"小"}},
		{Code: "medium", Label: "medium", LabelZH: "中", Opacity: 0.7, Synonyms: []string{"中等"}},
		{Code: "high", Label: "high", LabelZH: "高", Opacity: 0.9, Synonyms: []string{"大"}},
	}
	// FacilityKindValues: the kind of a public facility.
	FacilityKindValues = []Value{
		{Code: "school", Label: "school", LabelZH: "学校", Color: "#3a86ff", Synonyms: []string{"小学", "中学", "教学点"}},
		{Code: "clinic", Label: "clinic", LabelZH: "卫生室", Color: "#ef233c", Synonyms: []string{"村卫生室", "诊所", "卫生院", "doctors"}},
		{Code: "hospital", Label: "hospital", LabelZH: "医院", Color: "#d90429", Synonyms: []string{"县医院", "人民医院"}},
		{Code: "market", Label: "market", LabelZH: "集市", Color: "#8338ec", Synonyms: []string{"市场", "marketplace"}},
		{Code: "bus_stop", Label: "bus stop", LabelZH: "公交站", Color: "#fb8500", Synonyms: []string{"车站", "招呼站"}},
		{Code: "water_source", Label: "water source", LabelZH: "水源地", Color: "#00b4d8", Synonyms: []string{"水源"}},
	}
	// PowerKindValues: what a power-grid upgrade is. The map draws
	// transformers in their colour (lines in their status's).
	PowerKindValues = []Value{
		{Code: "line", Label: "line", LabelZH: "线路", Color: "#f4a261", Synonyms: []string{"电力线", "输电线路", "配电线路", "minor_line"}},
		{Code: "transformer", Label: "transformer", LabelZH: "变压器", Color: "#f4a261", Synonyms: []string{"台区", "配变"}},
	}
	// DangerGradeValues: the appraisal grade of a dilapidated house.
	DangerGradeValues = []Value{
		{Code: "C", Label: "grade C", LabelZH: "C级", Color: "#f77f00", Synonyms: []string{"C级危房"}},
		{Code: "D", Label: "grade D", LabelZH: "D级", Color: "#b5179e", Synonyms: []string{"D级危房"}},
	}
	// RenovationWorkValues: how a dilapidated house is renovated.
	RenovationWorkValues = []Value{
		{Code: "repair", Label: "repair", LabelZH: "修缮加固", Synonyms: []string{"维修", "修缮", "加固", "维修加固"}},
		{Code: "rebuild", Label: "rebuild", LabelZH: "拆除重建", Synonyms: []string{"重建", "新建"}},
	}
)

// The codes of the values above, for code that needs only the codes.
var (
	Statuses     = Codes(StatusValues)
	RoadClasses  = Codes(RoadClassValues)
	TechGrades   = Codes(TechGradeValues)
	Surfaces     = Codes(SurfaceValues)
	AdminLevels  = Codes(AdminLevelValues)
	HazardKinds  = Codes(HazardKindValues)
	Severities   = Codes(SeverityValues)
	FacilityKind = Codes(FacilityKindValues)
)

// powerStatusValues are the statuses in the power layer's palette (orange
// family, so that power lines stand apart from water pipelines).
var powerStatusValues = recolor(StatusValues, map[string]string{
	"planned": "#bdb2ff", "under_construction": "#e9c46a", "completed": "#f4a261", "cancelled": "#f4a261"})

func ptr(f float64) *float64 { return &f }

// AdminCodePattern matches a 12-digit statistical division code.
var AdminCodePattern = regexp.MustCompile(`^[0-9]{12}$`)

// commonFields are on every table. status is required on programme works.
func commonFields(statusRequired bool, status []Value) []Field {
	return []Field{
		{Name: "ext_id", Label: "External id", LabelZH: "外部编号", Type: Text},
		{Name: "name", Label: "Name", LabelZH: "名称", Type: Text, Tile: true},
		{Name: "admin_code", Label: "Admin code", LabelZH: "行政区划代码", Type: Text, Pattern: AdminCodePattern},
		{Name: "status", Label: "Status", LabelZH: "状态", Type: Enum, Values: status, Required: statusRequired, Tile: true},
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
	return append(commonFields(statusRequired, StatusValues), own...)
}

// Default returns the lastmile catalog: the five programme layers and the
// four reference layers of DESIGN.md §3.
func Default() *Catalog {
	return New(
		&Layer{
			Name: "roads", Title: "Village roads", TitleZH: "农村公路", Table: "roads",
			GeomKinds: []string{LineString, MultiLineString}, MinZoom: 6, MaxZoom: 14, DetailZoom: 6,
			FullZoom: 12, ZoomRules: []ZoomRule{
				{MinZoom: 6, Field: "road_class", Values: []string{"county"}},
				{MinZoom: 6, Field: "tech_grade", Values: []string{"expressway", "class1", "class2"}},
				{MinZoom: 8, Field: "road_class", Values: []string{"township"}},
				{MinZoom: 10, Field: "road_class", Values: []string{"village"}},
			},
			Overview: &Overview{Kind: OverviewLines, Below: 12, Bands: []int{6, 8, 10},
				Keys: []string{"road_class", "tech_grade", "surface", "status"}, Table: "road_overview", Count: "roads"},
			Fields: fields(true,
				Field{Name: "road_class", Label: "Road class", LabelZH: "行政等级", Type: Enum, Values: RoadClassValues, Tile: true},
				Field{Name: "tech_grade", Label: "Technical grade", LabelZH: "技术等级", Type: Enum, Values: TechGradeValues, Tile: true},
				Field{Name: "surface", Label: "Surface", LabelZH: "路面类型", Type: Enum, Values: SurfaceValues, Tile: true},
				Field{Name: "width_m", Label: "Width", LabelZH: "路面宽度", Type: Number, Unit: "m", Min: ptr(0), Max: ptr(100)},
			),
		},
		&Layer{
			Name: "water_pipelines", Title: "Drinking-water pipelines", TitleZH: "饮水管网", Table: "water_pipelines",
			GeomKinds: []string{LineString, MultiLineString}, MinZoom: 8, MaxZoom: 14, DetailZoom: 8,
			FullZoom: 12, ZoomRules: []ZoomRule{
				{MinZoom: 8, Field: "diameter_mm", AtLeast: 300},
				{MinZoom: 10, Field: "diameter_mm", AtLeast: 100},
			},
			Overview: &Overview{Kind: OverviewLines, Below: 12, Bands: []int{8, 10}, Keys: []string{"status"},
				Class: &OverviewClass{Field: "diameter_mm", Column: "diameter_class"}, Table: "water_pipeline_overview", Count: "pipelines"},
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
			FullZoom: 12, ZoomRules: []ZoomRule{
				{MinZoom: 8, Field: "voltage_kv", AtLeast: 35},
				{MinZoom: 10, Field: "voltage_kv", AtLeast: 10},
			},
			// Lines from the overview below z12; points (transformers) from
			// the rows, with the zoom rules, beside them.
			Overview: &Overview{Kind: OverviewLines, Below: 12, Bands: []int{8, 10}, Keys: []string{"kind", "status"},
				Class: &OverviewClass{Field: "voltage_kv", Column: "voltage_class"}, Table: "power_upgrade_overview", Count: "lines"},
			Fields: append(commonFields(true, powerStatusValues),
				Field{Name: "kind", Label: "Kind", LabelZH: "类型", Type: Enum, Values: PowerKindValues, Required: true, Tile: true},
				Field{Name: "voltage_kv", Label: "Voltage", LabelZH: "电压", Type: Number, Unit: "kV", Min: ptr(0), Max: ptr(1100), Tile: true},
				Field{Name: "capacity_kva", Label: "Capacity", LabelZH: "容量", Type: Number, Unit: "kVA", Min: ptr(0)},
			),
		},
		&Layer{
			Name: "house_renovations", Title: "Dilapidated-house renovations", TitleZH: "危房改造", Table: "house_renovations",
			GeomKinds: []string{Point}, MinZoom: 10, MaxZoom: 14, DetailZoom: 12,
			Fields: fields(true,
				Field{Name: "danger_grade", Label: "Danger grade", LabelZH: "危险等级", Type: Enum, Values: DangerGradeValues, Tile: true},
				Field{Name: "work", Label: "Work", LabelZH: "改造方式", Type: Enum, Values: RenovationWorkValues, Tile: true},
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
			GeomKinds: []string{Point}, MinZoom: 3, MaxZoom: 14, DetailZoom: 10,
			FullZoom: 12, ZoomRules: []ZoomRule{{MinZoom: 10, Field: "population", AtLeast: 1000}},
			Overview: &Overview{Kind: OverviewCounts, Below: 10, Levels: []OverviewLevel{
				{FromZoom: 3, Level: "county", Digits: 6}, {FromZoom: 8, Level: "township", Digits: 9}}},
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
			FullZoom: 10, ZoomRules: []ZoomRule{
				{MinZoom: 0, Field: "level", Values: []string{"province"}},
				{MinZoom: 4, Field: "level", Values: []string{"prefecture"}},
				{MinZoom: 5, Field: "level", Values: []string{"county"}},
				{MinZoom: 8, Field: "level", Values: []string{"township"}},
			},
			Fields: fields(false,
				Field{Name: "level", Label: "Level", LabelZH: "级别", Type: Enum, Values: AdminLevelValues, Required: true, Tile: true},
				Field{Name: "code", Label: "Code", LabelZH: "代码", Type: Text, Pattern: AdminCodePattern, Required: true, Tile: true},
				Field{Name: "parent_code", Label: "Parent code", LabelZH: "上级代码", Type: Text, Pattern: AdminCodePattern},
			),
		},
		&Layer{
			Name: "hazard_zones", Title: "Geological-hazard zones", TitleZH: "地质灾害隐患区", Table: "hazard_zones", Reference: true,
			GeomKinds: []string{MultiPolygon}, MinZoom: 6, MaxZoom: 14, DetailZoom: 6,
			Fields: fields(false,
				Field{Name: "kind", Label: "Kind", LabelZH: "灾害类型", Type: Enum, Values: HazardKindValues, Required: true, Tile: true},
				Field{Name: "severity", Label: "Severity", LabelZH: "危险程度", Type: Enum, Values: SeverityValues, Tile: true},
			),
		},
		&Layer{
			Name: "facilities", Title: "Public facilities", TitleZH: "公共服务设施", Table: "facilities", Reference: true,
			GeomKinds: []string{Point}, MinZoom: 10, MaxZoom: 14, DetailZoom: 12,
			Fields: fields(false,
				Field{Name: "kind", Label: "Kind", LabelZH: "类型", Type: Enum, Values: FacilityKindValues, Required: true, Tile: true},
			),
		},
	)
}
