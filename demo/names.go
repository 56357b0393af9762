package demo

import (
	"math/rand/v2"
	"strings"
)

// syllable is a Chinese character and its pinyin.
type syllable struct{ Han, Pinyin string }

// The townships of Shanghe County (names only: the demo's geometry is
// synthetic). The first is the county seat.
var townships = []syllable{
	{"许商街道", "Xushang Jiedao"},
	{"玉皇庙镇", "Yuhuangmiao Zhen"},
	{"殷巷镇", "Yinxiang Zhen"},
	{"怀仁镇", "Huairen Zhen"},
	{"龙桑寺镇", "Longsangsi Zhen"},
	{"郑路镇", "Zhenglu Zhen"},
	{"贾庄镇", "Jiazhuang Zhen"},
	{"孙集镇", "Sunji Zhen"},
	{"韩庙镇", "Hanmiao Zhen"},
	{"沙河镇", "Shahe Zhen"},
	{"张坊镇", "Zhangfang Zhen"},
	{"白桥镇", "Baiqiao Zhen"},
}

var surnames = []syllable{
	{"王", "Wang"}, {"李", "Li"}, {"张", "Zhang"}, {"刘", "Liu"}, {"陈", "Chen"},
	{"杨", "Yang"}, {"赵", "Zhao"}, {"黄", "Huang"}, {"周", "Zhou"}, {"吴", "Wu"},
	{"徐", "Xu"}, {"孙", "Sun"}, {"马", "Ma"}, {"朱", "Zhu"}, {"胡", "Hu"},
	{"郭", "Guo"}, {"何", "He"}, {"高", "Gao"}, {"林", "Lin"}, {"罗", "Luo"},
	{"郑", "Zheng"}, {"梁", "Liang"}, {"谢", "Xie"}, {"宋", "Song"}, {"唐", "Tang"},
	{"韩", "Han"}, {"冯", "Feng"}, {"于", "Yu"}, {"董", "Dong"}, {"曹", "Cao"},
	{"魏", "Wei"}, {"崔", "Cui"}, {"贾", "Jia"}, {"丁", "Ding"}, {"邢", "Xing"},
	{"商", "Shang"}, {"牛", "Niu"}, {"姜", "Jiang"}, {"石", "Shi"}, {"田", "Tian"},
}

var prefixes = []syllable{
	{"", ""}, {"", ""}, {"", ""}, {"", ""}, {"", ""}, {"", ""},
	{"东", "Dong"}, {"西", "Xi"}, {"南", "Nan"}, {"北", "Bei"},
	{"前", "Qian"}, {"后", "Hou"}, {"大", "Da"}, {"小", "Xiao"},
}

var suffixes = []syllable{
	{"家庄", "jiazhuang"}, {"家庄", "jiazhuang"}, {"庄", "zhuang"}, {"家村", "jiacun"},
	{"集", "ji"}, {"楼", "lou"}, {"家洼", "jiawa"}, {"家屯", "jiatun"}, {"家寨", "jiazhai"},
	{"官庄", "guanzhuang"}, {"家店", "jiadian"}, {"桥", "qiao"}, {"家坊", "jiafang"},
	{"庙", "miao"}, {"家堂", "jiatang"}, {"口", "kou"},
}

// villageName draws a village name not yet in used: "王家庄" with pinyin
// "Wangjiazhuang", sometimes with a direction prefix ("东王家庄").
func villageName(r *rand.Rand, used map[string]bool) syllable {
	for {
		p := prefixes[r.IntN(len(prefixes))]
		s := surnames[r.IntN(len(surnames))]
		x := suffixes[r.IntN(len(suffixes))]
		han := p.Han + s.Han + x.Han
		if used[han] {
			continue
		}
		used[han] = true
		py := s.Pinyin + x.Pinyin
		if p.Pinyin != "" {
			py = p.Pinyin + strings.ToLower(py)
		}
		return syllable{han + "村", py + " Cun"}
	}
}
