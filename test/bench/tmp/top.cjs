const fs=require("fs");const dir=process.argv[2];const f=fs.readdirSync(dir).filter(f=>f.endsWith(".cpuprofile")).sort((a,b)=>fs.statSync(dir+"/"+b).size-fs.statSync(dir+"/"+a).size)[0];const p=JSON.parse(fs.readFileSync(dir+"/"+f));
const self={};const dt=p.timeDeltas;const byId=new Map(p.nodes.map(n=>[n.id,n]));let total=0;
for(let i=0;i<p.samples.length;i++){const n=byId.get(p.samples[i]);const k=n.callFrame.functionName+" "+n.callFrame.url.split("/").slice(-2).join("/")+":"+n.callFrame.lineNumber;self[k]=(self[k]||0)+(dt[i]||0);total+=dt[i]||0}
console.log("total", (total/1000).toFixed(0), "ms");
console.log(Object.entries(self).sort((a,b)=>b[1]-a[1]).slice(0,Number(process.argv[3]||30)).map(([k,v])=>(v/1000).toFixed(1)+"ms "+(100*v/total).toFixed(1)+"% "+k).join("\n"))
