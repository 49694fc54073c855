//! Normalisation that keeps one character for one character, so every span found in the
//! normalised text is also a span of the original: full-width ASCII to half-width, the
//! ideographic space to a space, traditional characters common in dispute texts to simplified.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Traditional → simplified, pairwise (the first of each pair is traditional).
const TRAD_SIMP: &str = "與与個个們们來来這这時时對对會会說说爲为為为後后從从開开\
關关長长問问題题錢钱戶户門门間间國国學学種种車车東东業业樣样無无實实點点現现\
發发經经過过還还進进動动頭头體体萬万兩两邊边讓让鄰邻幹干張张費费認认識识該该\
給给辦办處处務务員员區区縣县鎮镇鄉乡街街號号樓楼場场廠厂園园區区職职養养醫医\
藥药療疗傷伤撞撞賠赔償偿損损壞坏氣气電电視视聽听話话網网絡络買买賣卖價价貨货\
筆笔單单據据證证書书記记錄录議议讓让協协調调爭争糾纠紛纷矛矛盾盾鬧闹罵骂毆殴\
搶抢偷偷騙骗殺杀鬥斗槍枪傷伤墻墙牆墙鄰邻園园產产權权屬属賬账債债貸贷雙双親亲\
愛爱婦妇婚婚離离龍龙鳳凤麗丽紅红綠绿藍蓝黃黄劉刘陳陈楊杨趙赵吳吴孫孙馬马鄭郑\
謝谢韓韩馮冯鄧邓曾曾蕭萧葉叶蘇苏魏魏呂吕盧卢陸陆錢钱湯汤羅罗許许鍾钟譚谭農农\
戶户擁拥擠挤聚聚訪访賴赖欠欠薪薪資资補补貼贴徵征拆拆遷迁嚴严險险殘残婦妇嬰婴\
幫帮團团華华興兴隊队軍军陰阴陽阳歲岁齡龄舊旧歸归訴诉訟讼紀纪鍵键項项擊击執执\
漢汉熱热燈灯廳厅島岛橋桥運运鐵铁鋼钢礦矿勞劳潔洁環环衛卫廢废噸吨聲声響响紙纸\
圖图條条線线組组織织級级絕绝結结給给總总統统純纯約约紅红細细終终維维綫线編编\
緊紧縮缩續续繳缴纏缠鑰钥銀银錯错鎖锁鐘钟鑑鉴隨随險险陣阵際际雜杂雞鸡雖虽難难\
靈灵韋韦頁页項项順顺須须預预領领頻频顧顾風风飛飞飯饭飲饮館馆駕驾騎骑驗验髮发\
鬆松魚鱼鳥鸟鹽盐麥麦齊齐齒齿龜龟狀状獨独獲获猶犹獎奖寶宝審审寫写實实將将專专\
尋寻對对導导層层屆届岡冈嶺岭帳帐幣币廣广庫库廟庙彎弯從从復复徑径憂忧懷怀態态\
慮虑憤愤懶懒戰战戲戏據据擔担擇择撥拨擴扩攜携敗败敵敌數数斷断晝昼曉晓暫暂曆历\
極极構构槍枪標标樹树橫横檢检歡欢殼壳氣气滅灭漲涨濟济濕湿灣湾爺爷牽牵獸兽現现\
畫画異异當当痴痴瘋疯盡尽監监盤盘眾众礙碍確确稅税穩稳窮穷競竞筆笔範范篩筛簡简\
糧粮緒绪罰罚義义習习聯联腦脑膽胆臉脸艦舰蘭兰處处蟲虫術术補补規规覺觉觀观訂订\
計计討讨訓训託托記记訪访設设許许診诊詞词試试詳详誠诚誤误請请諒谅談谈謀谋講讲\
證证識识護护讀读變变豐丰貝贝負负財财貧贫貪贪貴贵貸贷貿贸賀贺資资賓宾賽赛贈赠\
趕赶趙赵躍跃軟软輕轻載载輛辆輸输轉转辦办農农邁迈遠远適适遲迟遺遗郵邮鄉乡釋释\
針针鈔钞鋪铺錢钱鍋锅閉闭閑闲閱阅闆板阻阻際际隱隐雲云電电靜静響响頂顶飽饱餘余";

fn trad_map() -> &'static HashMap<char, char> {
    static MAP: OnceLock<HashMap<char, char>> = OnceLock::new();
    MAP.get_or_init(|| {
        let chars: Vec<char> = TRAD_SIMP.chars().filter(|c| !c.is_whitespace()).collect();
        chars
            .chunks_exact(2)
            .filter(|p| p[0] != p[1])
            .map(|p| (p[0], p[1]))
            .collect()
    })
}

/// One character in, one character out.
pub fn normalize_char(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' | '\u{00A0}' => ' ',
        '￥' => '¥',
        '○' => '〇',
        _ if (c as u32) < 0x3400 => c,
        _ => trad_map().get(&c).copied().unwrap_or(c),
    }
}

/// The normalised text (same number of characters as the input).
pub fn normalize(text: &str) -> String {
    text.chars().map(normalize_char).collect()
}

/// A Han ideograph (the CJK blocks used in practice).
pub fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn width_and_script_are_folded_one_for_one() {
        let s = "２０２４年３月５日，與鄰居發生糾紛，賠償￥３５，０００";
        let n = normalize(s);
        assert_eq!(n.chars().count(), s.chars().count());
        assert_eq!(n, "2024年3月5日,与邻居发生纠纷,赔偿¥35,000");
    }
}
