package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// messages holds every string of the report: key → [English, Chinese].
var messages = map[string][2]string{
	"title":                 {"Rural infrastructure report", "农村基础设施建设报告"},
	"county":                {"County", "县"},
	"township":              {"Township", "乡镇"},
	"as_of":                 {"Figures as of %s", "数据截至 %s"},
	"current":               {"Figures on the current data", "当前数据"},
	"generated":             {"Generated %s", "生成于 %s"},
	"code":                  {"Code", "代码"},
	"headline":              {"Headline figures", "主要指标"},
	"straight":              {"Villages within 1 km of a graded highway, straight line", "距等级公路 1 公里内的行政村（直线距离）"},
	"network":               {"Villages within 1 km of a graded highway, along the road network", "距等级公路 1 公里内的行政村（沿路网距离）"},
	"rai":                   {"Rural Access Index (2 km, all-season road)", "农村可达性指数（2 公里，全天候道路）"},
	"km":                    {"Road hardened, completed", "已完工硬化公路"},
	"water_km":              {"Water pipelines completed", "已完工供水管道"},
	"renovations":           {"Dilapidated-house renovations completed", "危房改造完成"},
	"water":                 {"Drinking-water works completed", "饮水工程完成"},
	"power":                 {"Power-grid upgrades completed", "电网改造完成"},
	"km_year":               {"Road hardened by year of completion", "各年度完工硬化公路里程"},
	"villages_of":           {"%s of %s villages", "%[2]s 个行政村中 %[1]s 个"},
	"people_of":             {"%s of %s people", "%[2]s 人中 %[1]s 人"},
	"works_of":              {"%s of %s (%s planned, %s under construction)", "%[2]s 项中 %[1]s 项（计划 %[3]s，在建 %[4]s）"},
	"villages_people":       {"Villages and their people (the coverage figures' villages)", "行政村与人口（通达指标所计行政村）"},
	"people":                {"%s people", "人口 %s 人"},
	"poor_households":       {"%s poor households", "贫困户 %s 户"},
	"roads_n":               {"%s roads", "%s 条道路"},
	"households":            {"%s households", "%s 户"},
	"households_served":     {"%s households served", "受益 %s 户"},
	"km_unit":               {"km", "公里"},
	"map":                   {"Map", "地图"},
	"map_note":              {"Drawn from lastmile's vector tiles (zoom %d, %d tiles) of the current data; villages coloured by the coverage figures above.", "由 lastmile 矢量瓦片绘制（第 %d 级，%d 个瓦片），道路与工程为当前数据；行政村按上述通达指标着色。"},
	"lg_roads":              {"Roads by surface (dashed: planned or under construction)", "道路（按路面；虚线：计划或在建）"},
	"lg_villages":           {"Villages", "行政村"},
	"lg_works":              {"Works by status", "工程（按状态）"},
	"lg_covered":            {"within 1 km along the network", "沿路网 1 公里内"},
	"lg_straight":           {"within 1 km in a straight line only", "仅直线 1 公里内"},
	"lg_uncovered":          {"not within 1 km", "1 公里外"},
	"lg_outside":            {"outside the area", "区域外"},
	"lg_renov":              {"house renovation", "危房改造"},
	"lg_water":              {"water pipeline", "供水管道"},
	"lg_boundary":           {"area / township boundary", "区域 / 乡镇界"},
	"by_township":           {"By township", "分乡镇"},
	"col_township":          {"Township", "乡镇"},
	"col_villages":          {"Villages", "行政村"},
	"col_straight":          {"≤ 1 km straight", "直线 1 公里内"},
	"col_network":           {"≤ 1 km network", "路网 1 公里内"},
	"col_rai":               {"RAI", "可达性指数"},
	"col_km":                {"Hardened km", "硬化里程"},
	"col_renov":             {"Renovations", "危房改造"},
	"total":                 {"Total", "合计"},
	"then_now":              {"Then and now", "前后对比"},
	"col_figure":            {"Figure", "指标"},
	"col_change":            {"Change", "变化"},
	"today":                 {"current data", "当前数据"},
	"uncovered":             {"Villages not within 1 km of a graded highway", "距等级公路 1 公里以外的行政村"},
	"uncovered_n":           {"%d villages not covered along the network, %d of them not in a straight line either.", "沿路网 1 公里以外的行政村 %d 个，其中直线距离也在 1 公里以外的 %d 个。"},
	"none":                  {"None: every village is covered.", "无：全部行政村均已覆盖。"},
	"col_name":              {"Village", "行政村"},
	"col_code":              {"Code", "代码"},
	"col_dist_s":            {"Straight line (m)", "直线距离（米）"},
	"col_dist_n":            {"Along the network (m)", "路网距离（米）"},
	"within_1km":            {"≤ 1000", "≤ 1000"},
	"beyond":                {"> 1000", "> 1000"},
	"data":                  {"The data", "数据"},
	"col_layer":             {"Layer", "图层"},
	"col_features":          {"Features in the area", "区域内要素"},
	"col_done":              {"Completed", "完工时间"},
	"col_edit":              {"Last edit", "最后编辑"},
	"col_bounds":            {"Bounds (lon/lat)", "范围（经纬度）"},
	"area_bounds":           {"Area bounds (WGS84 lon/lat): %s.", "区域范围（WGS84 经纬度）：%s。"},
	"last_edit":             {"Last edit to any layer: %s by %s.", "全部图层最后编辑：%s，%s。"},
	"no_edit":               {"No edit recorded.", "无编辑记录。"},
	"definitions":           {"Definitions and parameters", "指标定义与参数"},
	"def_intro":             {"Each figure is the answer of a lastmile statistics endpoint; the request below returns the same answer (add the server's address). The row read is the area's.", "每项指标均为 lastmile 统计接口的结果；下列请求（加上服务器地址）返回相同结果。报告读取其中本区域所在行。"},
	"api_def":               {"Definition (from the API)", "定义（接口原文）"},
	"parameters":            {"Parameters (as the API understood them)", "参数（接口解析结果）"},
	"request":               {"Request", "请求"},
	"row":                   {"Row", "所读行"},
	"no_date":               {"no date", "无日期"},
	"page":                  {"lastmile report", "lastmile 报告"},
	"na":                    {"—", "—"},
	"s_asphalt":             {"asphalt", "沥青"},
	"s_cement":              {"cement", "水泥"},
	"s_stone":               {"stone", "块石"},
	"s_gravel":              {"gravel", "砂石"},
	"s_earth":               {"earth", "土路"},
	"st_completed":          {"completed", "已完工"},
	"st_under_construction": {"under construction", "在建"},
	"st_planned":            {"planned", "计划"},
}

// definitionsZH are the Chinese definitions of the figures (the English
// report quotes the API's own definition).
var definitionsZH = map[string]string{
	"straight":    "行政村（villages 图层）与最近的等级公路（技术等级为高速公路或一至四级，状态为已完工；给定日期时为该日期前完工）之间的椭球面（WGS84）测地距离不超过 1000 米即计为覆盖。",
	"network":     "行政村先吸附到最近的已完工道路（测地吸附距离），再沿已完工路网（在共享端点处连通，边长为测地长度）到达等级公路的最短路径；总距离不超过 1000 米即计为覆盖。",
	"rai":         "农村可达性指数（世界银行；可持续发展目标 9.1.1）：居住在全天候道路（硬化路面，或等级公路且已完工）2 公里内的农村人口（行政村人口）占比，保留一位小数。",
	"km":          "硬化（水泥、沥青或块石路面）且状态为已完工的道路长度之和（每条道路在 WGS84 椭球面上的测地长度），求和后保留两位小数；给定日期时只计该日期前完工的道路。",
	"km_year":     "同上，按完工日期所在年份分组。",
	"water_km":    "状态为已完工的供水管道测地长度之和（公里）。",
	"renovations": "危房改造项目按状态计数（计划、在建、已完工、已取消）；完成率 = 已完工 ÷（总数 − 已取消）。给定日期时：完工日期不晚于该日期为已完工，开工日期不晚于该日期为在建，其余为计划。",
	"water":       "供水管道工程按状态计数，完成率同上。",
	"power":       "电网改造工程（线路与变压器）按状态计数，完成率同上。",
}

// tr returns the string of key in lang.
func tr(lang, key string) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	if lang == "zh" {
		return m[1]
	}
	return m[0]
}

// fmtInt writes an integer with thousands separators (12,345).
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtPct writes a percentage as the API rounds it (0.1).
func fmtPct(p *float64) string {
	if p == nil {
		return "—"
	}
	return strconv.FormatFloat(*p, 'f', 1, 64) + " %"
}

// fmtKm writes km as the API rounds them (0.01).
func fmtKm(km float64) string { return strconv.FormatFloat(km, 'f', 2, 64) }

// fmtM writes metres to the metre.
func fmtM(m *float64) string {
	if m == nil {
		return ""
	}
	return fmtInt(int64(math.Round(*m)))
}

func fmtDate(d *time.Time) string {
	if d == nil {
		return ""
	}
	return d.Format(time.DateOnly)
}

// fmtTime writes a time (time.Time or *time.Time) in UTC to the minute.
func fmtTime(v any) string {
	switch t := v.(type) {
	case time.Time:
		return t.UTC().Format("2006-01-02 15:04 UTC")
	case *time.Time:
		if t != nil {
			return t.UTC().Format("2006-01-02 15:04 UTC")
		}
	}
	return ""
}

func fmtBounds(w, s, e, n *float64) string {
	if w == nil || s == nil || e == nil || n == nil {
		return ""
	}
	return fmt.Sprintf("%.4f, %.4f – %.4f, %.4f", *w, *s, *e, *n)
}
